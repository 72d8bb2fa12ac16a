"""The layer contract, checked on every import statement in the tree (including ones inside functions):

* `workbench` (the core) never imports textual or screens — except `workbench/cli`, which may start the UI;
* `storage` imports nothing from the project but `workbench.model`;
* `workbench.model` imports nothing from the project at all;
* `screens` (the console) never imports `workbench.cli` (a front end beside it): what both show comes from the core;
* no two modules of `workbench` and `storage` import each other, directly or around a circle (`import_graph`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.import_graph import circles, import_graph

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                found.append(".".join([*base, node.module] if node.module else base))
            else:
                found.append(node.module or "")
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def violations(package: str, allowed: Callable[[str], bool], skip: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in modules(package):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(skip):
            continue
        bad += [f"{relative}: {name}" for name in imports_of(path) if not allowed(name)]
    return bad


def project(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in {"workbench", "storage", "screens", "tests"} else None


def test_core_never_imports_the_ui() -> None:
    def allowed(name: str) -> bool:
        return name.split(".")[0] not in {"textual", "screens", "rich"}

    assert violations("workbench", allowed, skip=("workbench/cli/",)) == []


def test_storage_imports_only_the_model() -> None:
    def allowed(name: str) -> bool:
        return project(name) in {None, "storage"} or name == "workbench.model" or name.startswith("workbench.model.")

    assert violations("storage", allowed) == []
    assert all(project(n) != "screens" for p in modules("storage") for n in imports_of(p))


def test_model_is_self_contained() -> None:
    def allowed(name: str) -> bool:
        return project(name) is None or name.startswith("workbench.model")

    assert violations("workbench/model", allowed) == []


def test_the_checker_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    """Guard the guard: a function-level `from ..screens import x` inside workbench must be caught."""
    sample = ROOT / "workbench" / "_layer_probe.py"
    sample.write_text("def f():\n    from screens import app\n    from .model import Secret\n")
    try:
        assert imports_of(sample) == ["screens", "workbench.model"]
    finally:
        sample.unlink()


@pytest.mark.parametrize("heavy", ["textual", "msal", "exchangelib", "pypsrp", "keyring", "httpx"])
def test_starting_the_cli_does_not_load_heavy_libraries(heavy: str) -> None:
    """`workbench --version` must stay fast: slow libraries load only in the commands that need them."""
    import subprocess
    import sys

    code = f"import sys, workbench.cli; workbench.cli.build_parser(); print({heavy!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_the_console_sits_on_top() -> None:
    """`screens` may import the core, storage and textual; nothing but the CLI imports `screens`, and only
    inside a function (so that `workbench --version` never loads Textual)."""

    def allowed(name: str) -> bool:
        return project(name) in {None, "workbench", "storage", "screens"}

    assert violations("screens", allowed) == []
    assert all(project(n) != "screens" for p in modules("storage") for n in imports_of(p))
    top_level = []
    for path in modules("workbench"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                top_level += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"screens", "textual"}]
    assert top_level == []


def test_the_console_never_imports_the_cli() -> None:
    """The console and the CLI are two front ends on the core: what both show (a fix's command line) lives there."""

    def allowed(name: str) -> bool:
        return name != "workbench.cli" and not name.startswith("workbench.cli.")

    assert violations("screens", allowed) == []


def test_the_core_and_storage_have_no_import_circles() -> None:
    """Every import statement counts, at module level, under TYPE_CHECKING or inside a function (see import_graph):
    a circle is reported as the modules around it."""
    assert circles(import_graph(ROOT, ["workbench", "storage"])) == []


def test_the_console_has_no_import_circles() -> None:
    """Screens reach the app through `screens.console.Console` and fixes their host through `FixHost`: the
    app imports the screens, never the other way round."""
    assert circles(import_graph(ROOT, ["screens"])) == []


def test_the_circle_finder_sees_lazy_and_type_only_imports(tmp_path: Path) -> None:
    """Guard the guard: circles closed by a function-level import, under TYPE_CHECKING and through a package's
    `__init__` are all found, each as its modules; a package that re-exports its own modules is no circle."""
    files = {
        "pkg/__init__.py": "from .c import C\n",  # re-exports; c does not import pkg
        "pkg/a.py": "def f():\n    from pkg import b\n",
        "pkg/b.py": "from . import a\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\nclass C: ...\n",
        "pkg/d.py": "from pkg.c import C\nclass D: ...\n",
        "pkg/e.py": "from pkg.sub import F\n",
        "pkg/sub/__init__.py": "from .f import F\n",
        "pkg/sub/f.py": "from pkg import e\nF = 1\n",
        "pkg/x.py": "from . import y\n",
        "pkg/y.py": "from . import x, z\n",
        "pkg/z.py": "import pkg.y\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ["pkg"])
    assert (graph["pkg"], graph["pkg.e"], graph["pkg.sub.f"]) == ({"pkg.c"}, {"pkg.sub"}, {"pkg.e"})
    assert circles(graph) == [
        ["pkg.a", "pkg.b", "pkg.a"],
        ["pkg.c", "pkg.d", "pkg.c"],
        ["pkg.e", "pkg.sub", "pkg.sub.f", "pkg.e"],
        ["pkg.x", "pkg.y", "pkg.x", "(also: pkg.z)"],
    ]
