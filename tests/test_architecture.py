"""The layering, held over the source: import cycles, module sizes, edges reaching past services.

``docs/architecture.md`` explains the layers; this file holds them, reading ``src/modelport`` with
``ast`` (nothing is imported). An import counts wherever it is written, in a function too (a lazy
import is still a dependency), except under ``if TYPE_CHECKING:`` (never run).

Each rule has an allow-list of what is true today, and it may only shrink: a new offender fails,
and so does an entry that is no longer true, so that the lists stay honest. When you fix one,
delete its entry (or lower its ceiling); never add one.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
SRC: Final = ROOT / "src" / "modelport"
FACADE: Final = "modelport"  # the unit of src/modelport/__init__.py, the public API

# --- the rules -------------------------------------------------------------------------------

MAX_LINES: Final = 500
SHOWN: Final = 6  # new cycles described in a failure

EDGES: Final = ("api", "cli", "ui")  # parse, call a service, render

# Persistence and execution: owned by the services (CatalogService, JobService, TokenService),
# never by an edge.
REPOSITORIES: Final = (
    "modelport.db",  # engine, tables, migrations
    "modelport.catalog.registry",  # Registry: the catalog's SQL
    "modelport.catalog.registry_latest",  # latest alias, facet terms, search text: its SQL too
    "modelport.catalog.search",  # full-text search over the registry's tables
    "modelport.jobs.store",  # JobStore: job records, events, metrics, logs
    "modelport.jobs.store_leases",  # its leases: which replica holds which running job
    "modelport.jobs.executors",  # where jobs run: local processes, Ray
    "modelport.auth.tokens",  # TokenStore: API tokens in the database
    "modelport.storage.artifacts",  # ArtifactStore: the catalog's content-addressed files
)
# ``service.registry`` / ``service.store`` (or their private names): an edge reaching the
# repository inside a service.
PRIVATE_ATTRIBUTES: Final = frozenset({"registry", "store", "_registry", "_store"})
# Not a service: ``<runtime>.metrics.registry`` (Prometheus's CollectorRegistry), and an edge
# object's own state (``self._store``: the request uploads' UploadStore).
NOT_SERVICES: Final = frozenset({"metrics", "self", "cls"})

# --- today's debts: these lists may only shrink ------------------------------------------------

# Every package-level import edge that lies on a cycle today, with the modules that make it.
# Empty since the settings, auth and catalog knot and the api, gateway and ui knot were undone
# (auth names the settings it reads as a protocol; the programs moved to apps/).
KNOWN_CYCLE_EDGES: Final[frozenset[tuple[str, str]]] = frozenset()

# Modules over MAX_LINES today, with their size then as a ceiling.
KNOWN_LONG_MODULES: Final[dict[str, int]] = {}

# Edge modules importing a repository today, and what they import.
KNOWN_REPOSITORY_IMPORTS: Final[set[tuple[str, str]]] = set()

# Edge modules reading ``.registry`` / ``.store`` off a service today, with the count as a ceiling.
KNOWN_PRIVATE_READS: Final[dict[str, int]] = {}

# --- reading the source ----------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One ``modelport`` module imported by one source file, at one line."""

    source: str  # the importing file, relative to SRC
    line: int
    module: str  # dotted, resolved to the module that defines the name where it can be

    @property
    def where(self) -> str:
        return f"src/modelport/{self.source}:{self.line}"


def sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_path(dotted: str) -> Path | None:
    """The file of a ``modelport`` module (a package's ``__init__.py``), if there is one."""
    base = SRC.parent.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node`` that can run, lazy ones included."""
    if isinstance(node, ast.If) and _type_checking_only(node):
        return [found for child in node.orelse for found in _import_nodes(child)]
    own = [node] if isinstance(node, ast.Import | ast.ImportFrom) else []
    return own + [found for child in ast.iter_child_nodes(node) for found in _import_nodes(child)]


@cache
def _reexported_from(package: str) -> dict[str, str]:
    """Names a package's ``__init__`` takes from its own modules: ``{name: module}``."""
    init = module_path(package)
    if init is None or init.name != "__init__.py":
        return {}
    return {
        alias.asname or alias.name: node.module
        for node in _import_nodes(tree(init))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
        if node.module.startswith(f"{package}.")
        for alias in node.names
    }


def _resolve(package: str, name: str) -> str:
    """What ``from package import name`` depends on: a submodule, a re-export's home, or package."""
    if module_path(f"{package}.{name}") is not None:
        return f"{package}.{name}"
    return _reexported_from(package).get(name, package)


def imports(path: Path) -> list[Import]:
    """The ``modelport`` modules ``path`` imports (relative imports resolved)."""
    here = relative(path)
    found = []
    for node in _import_nodes(tree(path)):
        if isinstance(node, ast.Import):
            found += [Import(here, node.lineno, alias.name) for alias in node.names]
            continue
        package = node.module or ""
        if node.level:  # ``from . import x``: relative to this file's package
            parts = ["modelport", *Path(here).parent.parts]
            parts = parts[: len(parts) - (node.level - 1)]
            package = ".".join([*parts, *([package] if package else [])])
        found += [Import(here, node.lineno, _resolve(package, a.name)) for a in node.names]
    return [i for i in found if i.module == "modelport" or i.module.startswith("modelport.")]


def unit_of_file(path: Path) -> str:
    """The package-level unit a source file belongs to: its first-level package or module."""
    parts = path.relative_to(SRC).parts
    if len(parts) > 1:
        return parts[0]
    return FACADE if parts[0] == "__init__.py" else Path(parts[0]).stem


def unit_of_module(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else FACADE


Graph = dict[str, dict[str, list[Import]]]


@cache
def package_graph() -> Graph:
    """``{importer: {imported: [the imports that make the edge]}}`` between package-level units."""
    graph: Graph = defaultdict(lambda: defaultdict(list))
    for path in sources():
        unit = unit_of_file(path)
        for found in imports(path):
            target = unit_of_module(found.module)
            if target != unit:
                graph[unit][target].append(found)
    return {unit: dict(targets) for unit, targets in graph.items()}


def path_between(graph: Graph, start: str, goal: str) -> list[str] | None:
    """A shortest import path from ``start`` to ``goal`` (breadth first), or None."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        unit = queue.popleft()
        if unit == goal:
            path = [unit]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for target in sorted(graph.get(unit, {})):
            if target not in came_from:
                came_from[target] = unit
                queue.append(target)
    return None


def cycle_edges(graph: Graph) -> dict[tuple[str, str], list[str]]:
    """Each edge on a cycle, with one cycle through it: ``{(a, b): [a, b, ..., a]}``."""
    found = {}
    for unit, targets in graph.items():
        for target in targets:
            back = path_between(graph, target, unit)
            if back is not None:
                found[unit, target] = [unit, *back]
    return found


def describe(graph: Graph, cycle: list[str]) -> str:
    """A cycle with the first import that makes each of its edges."""
    steps = []
    for unit, target in itertools.pairwise(cycle):
        first = graph[unit][target][0]
        steps.append(f"    {unit} -> {target}  ({first.where} imports {first.module})")
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


def is_private_read(node: ast.Attribute) -> bool:
    """``x.registry`` / ``x.store`` (or ``._registry`` / ``._store``) read off a service."""
    if node.attr not in PRIVATE_ATTRIBUTES:
        return False
    owner = node.value
    name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
    return name not in NOT_SERVICES


def edge_sources() -> list[Path]:
    return [path for edge in EDGES for path in sorted((SRC / edge).rglob("*.py"))]


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


# --- the tests -------------------------------------------------------------------------------


def test_the_source_is_where_this_test_reads_it() -> None:
    graph = package_graph()
    assert module_path("modelport.errors") is not None, f"no src/modelport at {SRC}"
    assert {"api", "cli", "catalog", "jobs"} <= set(graph), f"an empty import graph: {graph}"


def test_type_checking_imports_and_lazy_imports_are_told_apart() -> None:
    sample = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import typing\n"
        "if TYPE_CHECKING:\n    import modelport.never\n"
        "else:\n    import modelport.fallback\n"
        "if typing.TYPE_CHECKING:\n    import modelport.never_either\n"
        "def f():\n    import modelport.lazy\n"
    )
    names = [a.name for n in _import_nodes(sample) if isinstance(n, ast.Import) for a in n.names]
    assert names == ["typing", "modelport.fallback", "modelport.lazy"]


def test_no_new_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycles = cycle_edges(graph)
    new = {edge: cycle for edge, cycle in cycles.items() if edge not in KNOWN_CYCLE_EDGES}
    assert not new, (
        "New import cycle(s) between packages. Imports point downward (docs/architecture.md):\n"
        + "\n".join(describe(graph, new[edge]) for edge in sorted(new)[:SHOWN])
        + (f"\n  ... and {len(new) - SHOWN} more edges on new cycles" if len(new) > SHOWN else "")
        + "\nBreak it: move the shared piece down (to errors.py, a domain module, or a small "
        "protocol in the lower package), or pass the object in instead of importing it. "
        "Do not add it to KNOWN_CYCLE_EDGES."
    )


def test_known_cycles_are_still_cycles() -> None:
    gone = sorted(KNOWN_CYCLE_EDGES - set(cycle_edges(package_graph())))
    assert not gone, (
        f"These import edges are no longer on a cycle (well done): {gone}. "
        "Delete them from KNOWN_CYCLE_EDGES in tests/test_architecture.py so no cycle can return."
    )


def line_counts() -> dict[str, int]:
    return {relative(p): len(p.read_text(encoding="utf-8").splitlines()) for p in sources()}


def test_no_module_grows_over_the_limit() -> None:
    counts = line_counts()
    over = {
        name: lines
        for name, lines in counts.items()
        if lines > KNOWN_LONG_MODULES.get(name, MAX_LINES)
    }
    assert not over, (
        f"Modules over {MAX_LINES} lines, or over their recorded ceiling: {over}. "
        "Split by concept (one module per concept, ~150-400 lines) rather than raising a ceiling "
        "in KNOWN_LONG_MODULES."
    )


def test_known_long_modules_are_still_long() -> None:
    counts = line_counts()
    stale = {
        name: counts.get(name, "gone")
        for name in KNOWN_LONG_MODULES
        if counts.get(name, 0) <= MAX_LINES
    }
    assert not stale, (
        f"These modules are now within {MAX_LINES} lines, or gone: {stale}. "
        "Delete them from KNOWN_LONG_MODULES in tests/test_architecture.py."
    )


def repository_imports() -> dict[tuple[str, str], list[Import]]:
    found: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for path in edge_sources():
        for imported in imports(path):
            repository = next((r for r in REPOSITORIES if is_within(imported.module, r)), None)
            if repository is not None:
                found[imported.source, repository].append(imported)
    return found


def test_edges_do_not_import_repositories() -> None:
    new = {
        key: found
        for key, found in repository_imports().items()
        if key not in KNOWN_REPOSITORY_IMPORTS
    }
    assert not new, (
        "Edges (api/, cli/, ui/) import repositories: "
        + ", ".join(f"{found[0].where} imports {found[0].module}" for found in new.values())
        + ". Call a service instead (CatalogService, JobService, TokenService): give the service "
        "the method the edge needs, and keep the repository private to it."
    )


def test_known_repository_imports_are_still_there() -> None:
    stale = sorted(KNOWN_REPOSITORY_IMPORTS - set(repository_imports()))
    assert not stale, (
        f"These edge imports of repositories are gone (well done): {stale}. "
        "Delete them from KNOWN_REPOSITORY_IMPORTS in tests/test_architecture.py."
    )


def private_reads() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in edge_sources():
        lines = [
            node.lineno
            for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and is_private_read(node)
        ]
        if lines:
            found[relative(path)] = lines
    return found


def test_edges_do_not_reach_into_services() -> None:
    over = {
        f"src/modelport/{name}": lines
        for name, lines in private_reads().items()
        if len(lines) > KNOWN_PRIVATE_READS.get(name, 0)
    }
    assert not over, (
        f"Edges read .registry / .store off a service (file: lines): {over}. "
        "Add the operation to the service (e.g. CatalogService.module_detail, "
        "JobService.events) and call that; do not raise KNOWN_PRIVATE_READS."
    )


def test_known_private_reads_are_still_there() -> None:
    reads = private_reads()
    stale = sorted(name for name in KNOWN_PRIVATE_READS if name not in reads)
    assert not stale, (
        f"These edge modules no longer read .registry / .store (well done): {stale}. "
        "Delete them from KNOWN_PRIVATE_READS in tests/test_architecture.py."
    )
