"""`python -m tests.bench`: run every benchmark and print its figures."""

from tests.bench import engine, lab_powershell, store_commit

if __name__ == "__main__":
    store_commit.run()
    print()
    lab_powershell.run()
    print()
    engine.run()
