"""`python -m tests.bench`: run every benchmark and print its figures."""

from tests.bench import console, engine, lab_powershell, store_commit, store_scale

if __name__ == "__main__":
    store_commit.run()
    print()
    store_scale.run()
    print()
    lab_powershell.run()
    print()
    engine.run()
    print()
    console.run()
