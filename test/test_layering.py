"""The shape of harnets_core, checked from its source (ast, function bodies included):

- no module of harnets_core imports harnets_ros, rclpy or any other ROS package, not even
  lazily inside a function;
- no import cycle between harnets_core modules (function-local imports count);
- argparse is imported only by the command line (harnets_core/cli/);
- the packages form layers along the data flow (:data:`LAYERS`): a package imports only the
  packages of lower layers (docs/ARCHITECTURE.md shows the same order).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "harnets_core"
LAYERS = ("errors", "serialization", "topology", "transport", "formats", "features", "visualization", "datasets", "models", "streaming", "evaluation",
          "training", "runs", "synth", "cli")
"""harnets_core's top-level modules and packages, lowest first."""
ROS_ROOTS = {"harnets_ros", "rclpy", "harnets", "rosidl_runtime_py", "sensor_msgs", "std_msgs",
             "diagnostic_msgs", "lifecycle_msgs", "builtin_interfaces", "launch", "launch_ros"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every module ``module`` imports, anywhere in the file: (name, line). ``from a import b``
    counts as importing ``a.b`` when that is a module of harnets_core, else ``a``."""
    known = _modules()
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if sub in known else target, node.lineno))
    return out


def _core_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for name, _ in _imports(module, path):
            # the nearest harnets_core module that `name` is or lies in
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("harnets_core") and name != module:
                graph[module].add(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_scan_sees_the_core():
    modules = _modules()
    assert "harnets_core.formats.bvh" in modules and "harnets_core.cli.main" in modules
    graph = _core_graph()
    assert "harnets_core.models" in graph["harnets_core.models.modelfile"]
    # the command line imports most of the core inside its command functions: those count
    assert "harnets_core.runs.train" in graph["harnets_core.cli.commands"]


def test_function_local_and_relative_imports_are_seen(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("import os\n\ndef f():\n    import rclpy\n    from . import bvh\n    from ..models import lstm\n")
    names = [name for name, _ in _imports("harnets_core.formats.x", source)]
    assert names == ["os", "rclpy", "harnets_core.formats.bvh", "harnets_core.models.lstm"]


def test_core_never_imports_ros():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line}: imports {name}"
        for module, path in _modules().items()
        for name, line in _imports(module, path)
        if name.split(".")[0] in ROS_ROOTS
    ]
    assert not offenders, "harnets_core must never import ROS:\n" + "\n".join(offenders)


def test_no_import_cycles_between_core_modules():
    cycles = _cycles(_core_graph())
    assert not cycles, "import cycles in harnets_core:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer():
    layers = {_layer(m) for m in _modules()} - {"__init__"}
    assert layers == set(LAYERS), f"packages without a layer: {sorted(layers - set(LAYERS))}"


def test_packages_import_only_lower_layers():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{module} imports {dep}"
        for module, deps in _core_graph().items()
        for dep in sorted(deps)
        if _layer(module) in rank and _layer(dep) in rank and rank[_layer(dep)] > rank[_layer(module)]
    ]
    assert not upward, "imports against the layers " + " < ".join(LAYERS) + ":\n" + "\n".join(upward)


def test_argparse_only_in_the_command_line():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line}"
        for module, path in _modules().items()
        if not module.startswith("harnets_core.cli")
        for name, line in _imports(module, path)
        if name == "argparse"
    ]
    assert not offenders, "argparse outside harnets_core/cli: " + ", ".join(offenders)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
])
def test_cycle_finder(graph, expected):
    assert _cycles(graph) == expected
