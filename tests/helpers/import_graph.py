"""Read a package's own imports with ``ast`` (nothing is imported) and check the house rules.

An import is an edge from the importing module to the package module it names: for
``from .x import a`` that is ``x.a`` when ``x/a.py`` exists, else ``x``. Imports inside
``if TYPE_CHECKING:`` blocks are skipped (they never run); imports inside functions count.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written and as resolved."""

    module: str  # the importing module, dotted, relative to the package ("batch.inside")
    line: int
    target: str  # a package module ("batch.loop") or an external top-level name ("pandas")
    internal: bool

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


class PackageGraph:
    """The modules of the package rooted at ``root`` and the imports between them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name
        self.modules: Dict[str, Path] = {}
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            self.modules[".".join(parts)] = path
        self.imports: Dict[str, List[Import]] = {m: list(self._read(m)) for m in self.modules}

    def is_package(self, module: str) -> bool:
        return self.modules[module].name == "__init__.py"

    def _resolve(self, module: str, node: ast.ImportFrom) -> Optional[str]:
        """The dotted package-relative name ``from <x>`` refers to, or None if external."""
        if node.level == 0:
            name = node.module or ""
            if name != self.name and not name.startswith(self.name + "."):
                return None
            return name[len(self.name) + 1 :]
        base = module.split(".") if module else []
        if not self.is_package(module):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        if node.module:
            base = [*base, *node.module.split(".")]
        return ".".join(base)

    def _read(self, module: str) -> Iterator[Import]:
        tree = ast.parse(self.modules[module].read_text(encoding="utf-8"))
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield self._absolute(module, node.lineno, alias.name)
            elif isinstance(node, ast.ImportFrom):
                source = self._resolve(module, node)
                if source is None:
                    yield Import(module, node.lineno, (node.module or "").split(".")[0], False)
                    continue
                for alias in node.names:
                    child = f"{source}.{alias.name}" if source else alias.name
                    target = child if child in self.modules else source
                    yield Import(module, node.lineno, target, True)

    def _absolute(self, module: str, line: int, name: str) -> Import:
        if name == self.name or name.startswith(self.name + "."):
            return Import(module, line, name[len(self.name) + 1 :], True)
        return Import(module, line, name.split(".", maxsplit=1)[0], False)

    def internal_edges(self) -> Dict[str, List[Import]]:
        return {
            m: [i for i in imports if i.internal and i.target != m]
            for m, imports in self.imports.items()
        }


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack: List[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def find_cycles(graph: PackageGraph) -> List[List[Import]]:
    """Each import circle once, as the chain of imports that closes it."""
    edges = graph.internal_edges()
    cycles: List[List[Import]] = []
    seen: Set[Tuple[str, ...]] = set()
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: List[Import] = []

    def visit(module: str) -> None:
        state[module] = 1
        for edge in edges.get(module, []):
            if state.get(edge.target) == 1:
                start = next((i for i, e in enumerate(path) if e.module == edge.target), len(path))
                cycle = [*path[start:], edge]
                key = tuple(sorted(e.module for e in cycle))
                if key not in seen:
                    seen.add(key)
                    cycles.append(cycle)
            elif state.get(edge.target) is None:
                path.append(edge)
                visit(edge.target)
                path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return cycles


def describe_cycle(cycle: Sequence[Import]) -> str:
    return " -> ".join(f"{e.module} (line {e.line})" for e in cycle) + f" -> {cycle[0].module}"


def wing_of(module: str, wings: Mapping[str, str]) -> str:
    """The wing a module belongs to: its top-level name, mapped through ``wings``."""
    top = module.split(".", maxsplit=1)[0]
    return wings.get(top, top)


def layering_violations(
    graph: PackageGraph, wings: Mapping[str, str], order: Sequence[str]
) -> List[str]:
    """Imports from a wing to a wing that comes later in ``order`` (lower layers first)."""
    rank = {wing: index for index, wing in enumerate(order)}
    found = []
    for module, imports in graph.internal_edges().items():
        here = wing_of(module, wings)
        for edge in imports:
            there = wing_of(edge.target, wings)
            if there != here and rank.get(there, len(order)) > rank.get(here, len(order)):
                found.append(f"{edge.where} imports {edge.target} ({here} -> {there})")
    return found


def closure(graph: PackageGraph, roots: Sequence[str]) -> List[str]:
    """The roots and every package module they import, directly or not."""
    edges = graph.internal_edges()
    found: List[str] = []
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in found:
            continue
        found.append(module)
        todo.extend(edge.target for edge in edges.get(module, []))
    return sorted(found)


def confinement_violations(
    graph: PackageGraph,
    modules: Sequence[str],
    *,
    allowed_external: Sequence[str],
    allowed_internal: Sequence[str],
    wings: Mapping[str, str],
) -> List[str]:
    """Imports of ``modules`` beyond the standard library, ``allowed_external``, the module's
    own wing and the ``allowed_internal`` modules, in module and line order."""
    found: List[Tuple[str, int, str]] = []
    for module in modules:
        wing = wing_of(module, wings)
        for edge in graph.imports[module]:
            if edge.internal:
                ok = wing_of(edge.target, wings) == wing or edge.target in allowed_internal
            else:
                ok = edge.target in STDLIB or edge.target in allowed_external
            if not ok:
                found.append((module, edge.line, f"{edge.where} imports {edge.target}"))
    return [message for _, _, message in sorted(found)]
