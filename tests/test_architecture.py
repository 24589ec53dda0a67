"""Imports run one way, read from the source itself: no circle between modules, the chat service
and the shared package stay off the proxy's code, and in the proxy every import points down the
layers below.

The graph is built from every `import` and `from ... import` in a module: at the top, inside
functions (lazy imports) and under ``if TYPE_CHECKING:`` alike, with relative imports resolved.
An edge runs from a module to the module it names (``from a.b import c`` names ``a.b.c`` when
that is a module, else ``a.b``). Only modules of `PACKAGES` are nodes; the rest is ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mcp_proxy", "chat_api", "manifold_common")

COMPOSITION = (
    "mcp_proxy.app",
    "mcp_proxy.cli",
    "mcp_proxy.settings",
    "mcp_proxy.event_loop",
    "mcp_proxy.health",
    "mcp_proxy.metrics",
    "mcp_proxy.reload",
    "mcp_proxy.http_app",
    "mcp_proxy.listeners",
    "mcp_proxy.sign_in_command",
    "mcp_proxy.__main__",
)
"""The top-level modules of the proxy that put the layers together (the process, its routes, its
start-up and reload)."""

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("composition", COMPOSITION),
    ("front", ("mcp_proxy.front",)),
    ("registry", ("mcp_proxy.registry",)),
    ("upstream", ("mcp_proxy.upstream",)),
    ("catalog / config", ("mcp_proxy.catalog", "mcp_proxy.config")),
    ("core", ("mcp_proxy.core",)),
    ("shared", ("manifold_common",)),
)
"""The proxy's layers, top first: a module may import its own layer and the layers below it.
An entry names a module or a package (then every module inside it)."""

FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("chat_api", "mcp_proxy", "the chat service reaches the proxy only over MCP"),
    ("mcp_proxy", "chat_api", "the proxy knows nothing of the chat service"),
    ("manifold_common", "mcp_proxy", "the shared package imports neither side"),
    ("manifold_common", "chat_api", "the shared package imports neither side"),
    ("mcp_proxy.catalog", "mcp_proxy.config", "the catalog is pure: configured values come in as arguments"),
    ("mcp_proxy.config", "mcp_proxy.catalog.merged", "the configuration uses the naming rules, not the catalog"),
)
"""Imports the layers alone would allow (or that sit beside them) but the architecture does not:
(importer, imported, why), each naming a module or a package."""

PACKAGE_ROOTS = frozenset(PACKAGES)
"""Each package's own `__init__` holds its docstring and `__version__` only: any module of the
package may read the version, so imports of a root are exempt from the layers (they must not
import anything themselves, which `test_the_package_roots_import_nothing` holds)."""


@dataclass(frozen=True)
class Edge:
    """`importer` imports `imported` at `line`."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at `path` (a package's `__init__` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by dotted name."""
    return {
        module_name(root, path): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "node_modules" not in path.parts
    }


def _named_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names one import statement names, relative ones made absolute."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = package[: len(package) - (node.level - 1)]
        base = ".".join([*base_parts, node.module] if node.module else base_parts)
    else:
        base = node.module or ""
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that `name` is, or lies inside (``a.b.C`` -> ``a.b``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Edge]:
    """Every import between modules of `packages` under `root`, lazy and TYPE_CHECKING ones included."""
    modules = find_modules(root, packages)
    edges: set[Edge] = set()
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _named_targets(node, module, is_package):
                imported = _owning_module(name, modules)
                if imported is not None and imported != module:
                    edges.add(Edge(module, imported, node.lineno))
    return sorted(edges, key=lambda edge: (edge.importer, edge.imported, edge.line))


def find_cycles(edges: list[Edge]) -> list[list[str]]:
    """One circle through each group of modules that import each other (strongly connected)."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, []).append(edge.imported)
        graph.setdefault(edge.imported, [])
    return sorted(_circle_through(min(group), group, graph) for group in _strongly_connected(graph) if len(group) > 1)


def _strongly_connected(graph: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _circle_through(start: str, group: set[str], graph: dict[str, list[str]]) -> list[str]:
    """The shortest path from `start` back to itself inside `group`, as module names."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if successor in group and successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected group but no circle returns to it")


def _inside(module: str, entry: str) -> bool:
    return module == entry or module.startswith(f"{entry}.")


def layer_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> int | None:
    """The rank of `module`'s layer (0 is the top), by the longest entry that holds it."""
    best: tuple[int, int] | None = None
    for rank, (_, entries) in enumerate(layers):
        for entry in entries:
            if _inside(module, entry) and (best is None or len(entry) > best[1]):
                best = (rank, len(entry))
    return None if best is None else best[0]


def upward_imports(edges: list[Edge], layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> list[str]:
    """Every import from a layer up into a layer above it, with both layers named."""
    found: list[str] = []
    for edge in edges:
        if edge.imported in PACKAGE_ROOTS:
            continue
        importer, imported = layer_of(edge.importer, layers), layer_of(edge.imported, layers)
        if importer is not None and imported is not None and imported < importer:
            found.append(f"{edge} [{layers[importer][0]} imports {layers[imported][0]}]")
    return found


def forbidden_imports(edges: list[Edge], rules: tuple[tuple[str, str, str], ...] = FORBIDDEN) -> list[str]:
    """Every import a rule of `rules` forbids, with the rule's reason."""
    return [
        f"{edge} [{why}]"
        for edge in edges
        for importer, imported, why in rules
        if _inside(edge.importer, importer) and _inside(edge.imported, imported)
    ]


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_graph(ROOT)


def assert_none(found: list[str], rule: str) -> None:
    """Fail listing every offender in full (a diff of lists would truncate them)."""
    assert not found, "\n".join([f"{rule}; offending imports:", *found])


def edges_between(edges: list[Edge], importer: str, imported: str) -> list[str]:
    return [str(edge) for edge in edges if _inside(edge.importer, importer) and _inside(edge.imported, imported)]


def test_no_modules_import_each_other_in_a_circle(edges: list[Edge]) -> None:
    assert_none([" -> ".join(cycle) for cycle in find_cycles(edges)], "modules import each other in a circle")


def test_the_chat_service_imports_nothing_from_the_proxy(edges: list[Edge]) -> None:
    assert_none(edges_between(edges, "chat_api", "mcp_proxy"), "chat_api imports mcp_proxy")


def test_the_shared_package_imports_neither_side(edges: list[Edge]) -> None:
    found = edges_between(edges, "manifold_common", "mcp_proxy") + edges_between(edges, "manifold_common", "chat_api")
    assert_none(found, "manifold_common imports a side")


def test_the_upstream_package_never_imports_the_front(edges: list[Edge]) -> None:
    assert_none(edges_between(edges, "mcp_proxy.upstream", "mcp_proxy.front"), "the upstream package imports the front")


def test_every_proxy_import_points_down_the_layers(edges: list[Edge]) -> None:
    assert_none(upward_imports(edges), "a layer imports a layer above it")


def test_no_import_breaks_a_rule_of_the_architecture(edges: list[Edge]) -> None:
    assert_none(forbidden_imports(edges), "an import the architecture forbids")


def test_every_proxy_module_has_a_place_in_the_layers() -> None:
    unplaced = [
        module
        for module in find_modules(ROOT, ("mcp_proxy", "manifold_common"))
        if module not in PACKAGE_ROOTS and layer_of(module) is None
    ]
    assert unplaced == [], "add each module (or its package) to LAYERS"


def test_the_package_roots_import_nothing(edges: list[Edge]) -> None:
    assert_none([str(edge) for edge in edges if edge.importer in PACKAGE_ROOTS], "a package root imports a module")


# The checker itself, on small packages written for the purpose, so the tests above cannot pass
# because it found nothing to look at.


def write_package(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_resolves_absolute_relative_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "__version__ = '1'\n",
            "pkg/low/__init__.py": "",
            "pkg/low/leaf.py": "VALUE = 1\n",
            "pkg/low/other.py": "from . import leaf\nfrom .. import __version__\n",
            "pkg/top.py": (
                "from typing import TYPE_CHECKING\n"
                "import json\n"
                "import pkg.low.leaf\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.low.other import Thing\n"
                "def later():\n"
                "    from .low import leaf\n"
            ),
        },
    )

    found = {(edge.importer, edge.imported, edge.line) for edge in import_graph(tmp_path, ("pkg",))}

    assert found == {
        ("pkg.low.other", "pkg.low.leaf", 1),
        ("pkg.low.other", "pkg", 2),
        ("pkg.top", "pkg.low.leaf", 3),
        ("pkg.top", "pkg.low.other", 5),
        ("pkg.top", "pkg.low.leaf", 7),
    }


def test_the_checker_finds_a_circle_closed_by_a_lazy_import(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": "from pkg import c\n",
            "pkg/c.py": "def later():\n    from .a import A\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )

    assert find_cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_the_checker_finds_an_import_up_the_layers_and_a_forbidden_one(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/front/__init__.py": "",
            "pkg/front/handlers.py": "from pkg.upstream.link import Link\n",
            "pkg/upstream/__init__.py": "",
            "pkg/upstream/link.py": "from ..front.handlers import Handler\nfrom other import thing\n",
            "other/__init__.py": "",
            "other/thing.py": "",
        },
    )
    layers = (("front", ("pkg.front",)), ("upstream", ("pkg.upstream",)))
    edges = import_graph(tmp_path, ("pkg", "other"))

    assert upward_imports(edges, layers) == [
        "pkg.upstream.link -> pkg.front.handlers (line 1) [upstream imports front]"
    ]
    assert forbidden_imports(edges, (("pkg.upstream", "other", "stay inside"),)) == [
        "pkg.upstream.link -> other.thing (line 2) [stay inside]"
    ]
