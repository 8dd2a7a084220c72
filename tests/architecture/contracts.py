"""An import-linter contract: no cycle between packages through module-level imports.

import-linter's own graph (grimp) records every ``import`` statement wherever it stands. Our rule
(docs/architecture.md, "Imports") is stricter for module-level imports than for imports inside a
function: a module-level import is what Python runs when the package is imported, so a cycle of
them between packages decides whether casehub can start at all and in which order. This contract
collapses the modules into *units* (each direct child of a container such as ``casehub``, plus
each listed root package such as ``workflows``), keeps only the imports that stand at module level
(not inside a ``def``/``class`` body's function, and not under ``if TYPE_CHECKING:`` — the latter
are already dropped by ``exclude_type_checking_imports``), and fails on any cycle between units,
naming one import for every edge of the cycle.

Function-level imports are not part of this contract; the forbidden contracts in
``.importlinter`` (no Django in ``storage``/``signing``, no ``casehub.api`` below the API) count
them like any other import.
"""

from __future__ import annotations

import ast
import importlib.util
from collections import defaultdict
from functools import cache

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


@cache
def function_level_lines(module: str) -> frozenset[int]:
    """Line numbers of the import statements that stand inside a function body of ``module``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return frozenset()
    with open(spec.origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename=spec.origin)
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    lines.add(inner.lineno)
    return frozenset(lines)


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative enough for a few dozen units: recursion depth ≤ units)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


class ModuleLevelAcyclicContract(Contract):
    """Units (children of ``containers`` and the ``roots``) form no cycle through module-level imports."""

    type_name = "module_level_acyclic"

    containers = fields.ListField(subfield=fields.StringField())
    roots = fields.ListField(subfield=fields.StringField(), required=False)

    def _unit(self, module: str) -> str | None:
        for root in self.roots or []:  # type: ignore[attr-defined]
            if module == root or module.startswith(root + "."):
                return root
        for container in self.containers:  # type: ignore[attr-defined]
            if module.startswith(container + "."):
                return ".".join(module.split(".")[: container.count(".") + 2])
        return None

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        edges: dict[str, set[str]] = defaultdict(set)
        witness: dict[tuple[str, str], str] = {}
        for importer in sorted(graph.modules):
            a = self._unit(importer)
            if a is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                b = self._unit(imported)
                if b is None or a == b:
                    continue
                inside_functions = function_level_lines(importer)
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    if detail["line_number"] not in inside_functions:
                        edges[a].add(b)
                        witness.setdefault((a, b), f"{importer}:{detail['line_number']} imports {imported}")
                        break
        cycles = _strongly_connected(edges)
        details = []
        for component in cycles:
            members = set(component)
            lines = [witness[(a, b)] for a in component for b in sorted(edges[a] & members)]
            details.append((component, lines))
        return ContractCheck(kept=not cycles, metadata={"cycles": details})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for component, lines in check.metadata["cycles"]:
            output.print_error(f"Module-level import cycle between {', '.join(component)}:", bold=True)
            for line in lines:
                output.indent_cursor()
                output.print_error(f"- {line}")
            output.new_line()
