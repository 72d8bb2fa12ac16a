"""The project's import graph, read from the source with `ast`: which of its modules imports which, and the circles.

Every import statement counts, wherever it stands: at module level, under `if TYPE_CHECKING:` and inside a
function. A lazy import only postpones a circle to the first call, and a type-only one still ties the two modules'
designs together; either way the modules cannot be understood (or moved) one without the other.

`from package import name` is an edge to `package.name` when that is one of the modules, else to `package`; an
import of `a.b.c` is an edge to the deepest of `a.b.c`, `a.b`, `a` that is a module of the graph. The package an
imported module sits in is not an edge of its own (every package's `__init__` would otherwise make a circle with
the modules it re-exports).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Collection, Iterable
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_of(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """The modules of `packages` (folders under `root`), by dotted name."""
    return {module_name(root, path): path for package in packages for path in sorted((root / package).rglob("*.py"))}


def imported_modules(name: str, path: Path, modules: Collection[str]) -> set[str]:
    """The modules of `modules` that the module `name` (at `path`) imports, itself excluded."""

    def module_of(imported: str) -> str | None:
        while imported and imported not in modules:
            imported = imported.rpartition(".")[0]
        return imported or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(module_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else module_of(source))
    return {module for module in found if module is not None and module != name}


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of the same packages it imports."""
    modules = modules_of(root, packages)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each as the shortest circle through its first
    module (alphabetically) followed by the rest of the component: `["a", "b", "a", "(also: c)"]`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(start: str) -> None:  # Tarjan's algorithm, iteratively
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(_described(graph, component) for component in components)


def _described(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    first, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & members):
            if target == first:
                path = [node]
                while path[-1] != first:
                    path.append(came_from[path[-1]])
                circle = [*reversed(path), first]
                rest = sorted(members - set(circle))
                return circle + ([f"(also: {', '.join(rest)})"] if rest else [])
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{component} is not a circle")  # pragma: no cover  (a component of two or more is one)
