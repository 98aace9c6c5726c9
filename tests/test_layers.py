"""golat's modules import in one direction: models <- renderers <- orchestration <- entry
points, and no module-level import circle (read from the source, not from sys.modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import golat

PACKAGE = Path(golat.__file__).parent

MODELS = {"_params", "_settings", "workloads", "_result", "_comparison", "_histogram",
          "_timeline", "_ramp", "_units", "_slo", "_stats", "_gctrace", "_hlog", "_merge",
          "_topology", "_placement", "_render", "_version", "errors", "_outliers"}  # fmt: skip
RENDERERS = {"_format", "_plot"}
ORCHESTRATION = {"_run", "_pool", "_measure", "_compare", "_serve", "fleet"}
ENTRY_POINTS = {"_cli", "_worker", "_fleet_cli", "_fleet_child", "__main__"}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _golat_names(node: ast.AST) -> set[str]:
    """The golat modules one import statement names."""
    if isinstance(node, ast.ImportFrom):
        if node.level == 1 and node.module:
            return {node.module.split(".")[0]}
        if node.level == 1:
            return {a.name for a in node.names}
        if node.module and node.module.split(".")[0] == "golat":
            parts = node.module.split(".")
            return {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
    if isinstance(node, ast.Import):
        return {a.name.split(".")[1] for a in node.names if a.name.startswith("golat.")}
    return set()


def imports(module: str, typing: bool = False) -> tuple[set[str], set[str]]:
    """(module-level imports, every import including those inside functions) of a golat
    module, golat modules only; imports under ``if TYPE_CHECKING`` count only in the
    second, and only with ``typing``."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    top: set[str] = set()
    for node in tree.body:
        top |= _golat_names(node)
    every: set[str] = set()
    skip = (
        set()
        if typing
        else {id(n) for n in ast.walk(tree) if isinstance(n, ast.If) and _is_type_checking(n)}
    )
    stack = [tree]
    while stack:
        node = stack.pop()
        if id(node) in skip:
            continue
        every |= _golat_names(node)
        stack.extend(ast.iter_child_nodes(node))
    known = {p.stem for p in PACKAGE.glob("*.py")}
    return (top & known) - {module}, (every & known) - {module}


def test_every_module_has_a_layer_or_is_the_core_boundary():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    placed = MODELS | RENDERERS | ORCHESTRATION | ENTRY_POINTS
    boundary = {"_native", "runtime", "_env", "_threads", "_pmqos", "_interrupts", "pyperf",
                "pytest_plugin"}  # fmt: skip
    assert modules - placed - boundary == set()


def test_layers_import_in_one_direction():
    above = {
        "model": RENDERERS | ORCHESTRATION | ENTRY_POINTS,
        "renderer": ORCHESTRATION | ENTRY_POINTS,
        "orchestration": ENTRY_POINTS,
    }
    for layer, modules in (("model", MODELS), ("renderer", RENDERERS),
                           ("orchestration", ORCHESTRATION)):  # fmt: skip
        for m in sorted(modules):
            wrong = imports(m)[1] & above[layer]
            assert not wrong, f"{m} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("which", ["module level", "with imports in functions and for types"])
def test_no_import_circle(which):
    """No circle of module-level imports (Python could not import one); nor once the
    imports inside functions and those for type hints count (a model that imports its
    codec lazily, to_hlog once did, is still tied to it)."""
    if which == "module level":
        graph = {p.stem: imports(p.stem)[0] for p in PACKAGE.glob("*.py")}
    else:
        graph = {p.stem: imports(p.stem, typing=True)[1] for p in PACKAGE.glob("*.py")}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path, m, d]))
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
