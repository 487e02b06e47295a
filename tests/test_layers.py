"""The import graph of src/allocopt, read with ast: no cycle, and imports only go down the layers.

Every import counts, at module level or inside a function (a lazy import hides a cycle, it does not remove it),
and so does a module named to `_startup.deferred` or `importlib.import_module`, except imports under
`if TYPE_CHECKING:`, which never run.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "allocopt"

CLI = ("allocopt.__main__", "allocopt.cli", "allocopt.cli_*", "allocopt._clitools")
"""The command line: thin commands over the library; nothing else may import them."""

FOUNDATION = ("allocopt.errors", "allocopt.services", "allocopt.money", "allocopt.inputs", "allocopt.watchdog",
              "allocopt._startup", "allocopt.choices", "allocopt.highs", "allocopt.solve")
"""Modules every layer may use; they import only each other."""

KNOWN_CYCLES: dict[tuple[str, str], str] = {}
"""Import edges left out of the cycle check until the cycle they close is removed (each with the way out);
`test_known_cycles_still_exist` makes sure an entry goes once its cycle is gone."""

# (importers, modules they must not import, why)
FORBIDDEN: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("allocopt.*",), CLI, "the library never calls its command line"),
    (("allocopt.model", "allocopt.model.*"),
     ("allocopt.workflow", "allocopt.optimize", "allocopt.results", "allocopt.export", "allocopt.report",
      "allocopt.maps", "allocopt.workbook", "allocopt.sweep", "allocopt.batch", "allocopt.compare",
      "allocopt.engine", "allocopt.regions", "allocopt.closure_plan", "allocopt.vulnerability"),
     "the model works on arrays; reading regions, writing outputs and running steps are above it"),
    (("allocopt.scenario", "allocopt.tiers"), ("allocopt.model", "allocopt.model.*"),
     "settings are parsed before any model exists"),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The allocopt modules `name` imports when it runs (a `from x import y` of a submodule counts as x.y)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _loader_name(node.func) in ("deferred", "import_module") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                targets.add(first.value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return {target for target in targets if target in modules and target != name}


def _loader_name(func: ast.expr) -> str | None:
    """The name a call is made through: `deferred(...)`, `importlib.import_module(...)`."""
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := walk(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)) is not None:
            return found
    return None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def test_graph_is_read(graph: dict[str, set[str]]) -> None:
    """The reader sees the imports it should (guards the test against reading nothing)."""
    assert "allocopt.model.problem" in graph["allocopt.model.allocation"]
    assert "allocopt.model._lp" in graph["allocopt.model.referral"]
    assert "allocopt.workflow" in graph["allocopt.cli"]  # deferred: imported when a command runs
    assert "allocopt.model.capacity_coverage" in graph["allocopt.cli"]


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    cycle = _cycle({name: {t for t in targets if (name, t) not in KNOWN_CYCLES} for name, targets in graph.items()})
    assert cycle is None, ("import cycle: " + " -> ".join(cycle or [])
                           + "; move what both sides need into a lower module (as model/_lp.py does)")


def test_foundation_imports_only_foundation(graph: dict[str, set[str]]) -> None:
    for name in FOUNDATION:
        above = {target for target in graph[name] if not _matches(target, (*FOUNDATION, PACKAGE))}
        assert not above, f"{name} imports {sorted(above)}, which are above the foundation"


@pytest.mark.parametrize(("importers", "forbidden", "why"), FORBIDDEN, ids=[why for _, _, why in FORBIDDEN])
def test_imports_go_down(graph: dict[str, set[str]], importers: tuple[str, ...], forbidden: tuple[str, ...],
                         why: str) -> None:
    wrong = sorted(f"{name} -> {target}" for name, targets in graph.items()
                   if _matches(name, importers) and not _matches(name, forbidden)
                   for target in targets if _matches(target, forbidden))
    assert not wrong, f"{why}: {', '.join(wrong)}"


def test_known_cycles_still_exist(graph: dict[str, set[str]]) -> None:
    for (importer, imported), way_out in KNOWN_CYCLES.items():
        assert imported in graph[importer] and _cycle({importer: {imported}, imported: graph[imported] & {importer}}), (
            f"{importer} -> {imported} no longer closes a cycle; remove it from KNOWN_CYCLES ({way_out})")
