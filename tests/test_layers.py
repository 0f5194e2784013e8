"""scratchnet's dependencies point one way: backend -> autograd core -> ops -> nn -> models -> apps.

Every module of ``scratchnet/`` is parsed (``ast``, nothing is imported) and each of its imports,
at module level and inside functions alike, is checked against the layer map below: a module may
import from its own layer or a lower one, never a higher one, and no chain of imports leads back
to where it started (no import cycle). The map is the one in ``scratchnet/__init__.py``'s docstring.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "scratchnet"

# Lowest first. A module belongs to the first entry that is it or a package above it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("backend", ("backend", "rng", "dtypes", "shapes")),
    (
        "autograd core",
        (
            "tensor",
            "engine",
            "autograd",
            "function",
            "creation",
            "gradcheck",
            "cuda",
            "accelerator",
            "backends",
            "distributed",
        ),
    ),
    ("ops", ("ops", "kernels")),  # kernels sit beside ops, reached through backend.fast_kernel
    ("nn", ("nn", "optim", "io", "data", "utils", "compile", "hub")),
    ("models", ("models",)),
    ("applications", ("analysis", "lessons", "train", "viz", "labs", "demos")),
]
TOP = len(LAYERS) - 1  # the package root imports everything, so it sits with the applications


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    inside = module.removeprefix("scratchnet").removeprefix(".")
    if not inside:
        return TOP
    for level, (_, prefixes) in enumerate(LAYERS):
        if any(inside == prefix or inside.startswith(prefix + ".") for prefix in prefixes):
            return level
    raise AssertionError(
        f"{module} is in no layer: add it to LAYERS (and to the package docstring)"
    )


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every scratchnet module ``path`` imports, with the line: ``from a import b`` gives ``a.b``
    where ``a.b`` is a module (a submodule import), else ``a``."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found = []
    for node in ast.walk(tree):  # module level and inside functions alike
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if _exists(candidate) else base, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "scratchnet"]


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@functools.cache
def _graph() -> dict[str, list[tuple[str, int]]]:
    return {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _with_parent_packages(graph: dict[str, list[tuple[str, int]]]) -> dict[str, list]:
    """Add the imports Python makes implicitly: importing ``scratchnet.a.b`` first runs
    ``scratchnet/a/__init__.py``. (Not the root's, which imports everything by design, and not a
    package's own, which is always running already when its modules are imported.)"""
    full = {}
    for module, targets in graph.items():
        extra = []
        for target, line in targets:
            parts = target.split(".")
            for end in range(2, len(parts)):
                parent = ".".join(parts[:end])
                if parent in graph and not (module + ".").startswith(parent + "."):
                    extra.append((parent, line))
        full[module] = targets + extra
    return full


def test_no_module_imports_from_a_higher_layer():
    graph = _graph()
    violations = sorted(
        {
            f"{module} ({LAYERS[_layer(module)][0]}) line {line} imports {target} "
            f"({LAYERS[_layer(target)][0]})"
            for module, targets in graph.items()
            for target, line in targets
            if _layer(target) > _layer(module)
        }
    )
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The import cycles, each as the list of modules around it (Tarjan's strongly connected
    components, iterative; a component of two or more modules, or one importing itself)."""
    edges = {m: sorted({t for t, _ in targets if t in graph}) for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1 or node in edges[node]:
                    components.append(sorted(component))
    return components


def test_no_import_cycle():
    graph = _with_parent_packages(_graph())
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    graph = {
        "scratchnet.tensor": [("scratchnet.ops.shape", 3)],
        "scratchnet.ops.shape": [("scratchnet.tensor", 1)],
    }
    assert _cycles(graph) == [["scratchnet.ops.shape", "scratchnet.tensor"]]
    assert _layer("scratchnet.tensor") < _layer("scratchnet.ops.shape") < _layer("scratchnet.nn")
    assert _layer("scratchnet") == _layer("scratchnet.lessons.vgg_params") == TOP
    implicit = _with_parent_packages({"scratchnet.gradcheck": [("scratchnet.autograd.ctx", 1)]})
    assert ("scratchnet.autograd", 1) not in implicit["scratchnet.gradcheck"]  # not in the graph
    graph = {"scratchnet.a": [("scratchnet.b.c", 2)], "scratchnet.b": [], "scratchnet.b.c": []}
    assert ("scratchnet.b", 2) in _with_parent_packages(graph)["scratchnet.a"]
    source = PACKAGE / "ops" / "conv.py"
    names = [name for name, _ in _imports(source)]
    assert "scratchnet.tensor" in names and "scratchnet.backend" in names
