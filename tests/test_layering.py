"""Our apps' layering, read from their source with ``ast`` (nothing is imported, no database).

Imports run one way, studio <- profiles <- compute <- catalog: each app imports only the apps
to its left (studio imports no other app), and no two modules import each other. Every import
statement counts, at the top of a module, inside a function or under ``if TYPE_CHECKING:``.
Set LAYERING_ROOT to check another checkout than this one.
"""

import ast
import itertools
import os
from collections import deque
from pathlib import Path

LAYERS = ("studio", "profiles", "compute", "catalog")
ROOT = Path(os.environ.get("LAYERING_ROOT") or Path(__file__).resolve().parent.parent)

Import = tuple[str, str, int]  # importing module, imported module, line
Graph = dict[str, dict[str, list[int]]]  # module -> imported module -> lines


def find_modules(root: Path) -> dict[str, Path]:
    """Every module of our apps by dotted name; a package is its ``__init__.py``."""
    modules = {}
    for app in LAYERS:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(node: ast.Import | ast.ImportFrom, package: str, modules: dict) -> list[str]:
    """The dotted names one import statement names, relative imports made absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        if node.level > len(parts):
            return []  # beyond the top level: not one of our modules
        base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
    # ``from profiles import services`` names profiles.services if that module exists.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def resolve(name: str, modules: dict) -> str | None:
    """The module of ours ``name`` is in (itself or its nearest package), or None if not ours."""
    if name.split(".")[0] not in LAYERS:
        return None  # django, the standard library, other packages
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def find_imports(root: Path) -> list[Import]:
    """Every import, by any module of our apps, of a module of our apps."""
    modules = find_modules(root)
    found: set[Import] = set()
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in imported_names(node, package, modules):
                    target = resolve(name, modules)
                    if target is not None and target != module:
                        found.add((module, target, node.lineno))
    return sorted(found)


def imports_to_the_right(root: Path, apps: tuple[str, ...] = LAYERS) -> list[str]:
    """``module -> imported module (line)`` for each import by ``apps`` of an app to its right."""
    rank = {app: index for index, app in enumerate(LAYERS)}
    return [
        f"{module} -> {target} (line {line})"
        for module, target, line in find_imports(root)
        if module.split(".")[0] in apps and rank[target.split(".")[0]] > rank[module.split(".")[0]]
    ]


def module_graph(root: Path) -> Graph:
    modules = find_modules(root)
    graph: Graph = {module: {} for module in modules}
    for module, target, line in find_imports(root):
        if target in modules:
            graph[module].setdefault(target, []).append(line)
    return graph


def reachable(graph: Graph, start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def shortest_path(graph: Graph, start: str, goals: set[str], within: set[str]) -> list[str]:
    """The modules after ``start`` on a shortest path to one of ``goals``, inside ``within``."""
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in sorted(graph[module]):
            if target in goals:
                return [*paths[module][1:], target]
            if target in within and target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    raise AssertionError(f"no path from {start} to {goals}")


def import_cycles(root: Path) -> list[str]:
    """Each strongly connected component of more than one module, as a closed walk through all
    of it, ``a:lines -> b:lines -> a``, where each module imports the next at those lines."""
    graph = module_graph(root)
    reach = {module: reachable(graph, module) for module in graph}
    components = {
        frozenset(other for other in reach[module] if module in reach[other]) for module in graph
    }
    cycles = []
    for component in sorted((set(c) for c in components if len(c) > 1), key=min):
        walk = [min(component)]
        while unvisited := component - set(walk):
            walk += shortest_path(graph, walk[-1], unvisited, component)
        walk += shortest_path(graph, walk[-1], {walk[0]}, component)
        steps = [f"{a}:{','.join(map(str, graph[a][b]))}" for a, b in itertools.pairwise(walk)]
        cycles.append(" -> ".join([*steps, walk[-1]]))
    return cycles


def test_studio_imports_no_other_app():
    offending = imports_to_the_right(ROOT, apps=("studio",))
    assert not offending, (
        "studio is the bottom layer and must import no other app. Move what these imports need"
        " into studio, or move the importing code up into the app it imports from:\n  "
        + "\n  ".join(offending)
    )


def test_apps_import_only_apps_to_their_left():
    offending = imports_to_the_right(ROOT)
    assert not offending, (
        f"Each app may import only the apps to its left in {' <- '.join(LAYERS)}. Remove these"
        " imports: move what they need down into the importing app (or one to its left), or"
        " move the importing code up into the app it imports from:\n  " + "\n  ".join(offending)
    )


def test_no_two_modules_import_each_other():
    cycles = import_cycles(ROOT)
    assert not cycles, (
        "These modules import each other (each `module:lines` imports the next at those lines;"
        " imports inside functions and under TYPE_CHECKING count too). Break each cycle: move"
        " what both sides need into a module that imports neither, so imports run one way:\n  "
        + "\n  ".join(cycles)
    )


def test_imports_are_resolved_as_python_would(tmp_path: Path):
    files = {
        "studio/__init__.py": "",
        "studio/urls.py": "import os\nfrom django.urls import path\nfrom . import views\n",
        "studio/views.py": "from studio import something\nfrom profiles import services\n",
        "profiles/__init__.py": "",
        "profiles/models.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from .services import Thing\n",
        "profiles/services.py": "def f():\n    from profiles import models\n",
        "profiles/management/__init__.py": "from ..models import *\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert find_imports(tmp_path) == [
        ("profiles.management", "profiles.models", 1),
        ("profiles.models", "profiles.services", 4),
        ("profiles.services", "profiles.models", 2),
        ("studio.urls", "studio.views", 3),
        ("studio.views", "profiles.services", 2),
        ("studio.views", "studio", 1),
    ]
    assert imports_to_the_right(tmp_path) == ["studio.views -> profiles.services (line 2)"]
    assert import_cycles(tmp_path) == [
        "profiles.models:4 -> profiles.services:2 -> profiles.models"
    ]
