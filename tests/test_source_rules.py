"""The rule for PyTorch's names that shadow a builtin (CONTRIBUTING.md), checked on the source.

ruff's flake8-builtins rules (A001-A003) fail on any shadowed builtin except the names in
pyproject.toml's ``[tool.ruff.lint.flake8-builtins] ignorelist``: PyTorch's public names
(``input``, ``min``, ``max``, ``sum``, ``type``, ...). What ruff cannot check, these tests do: the
list holds only names scratchnet's API really uses; a function taking one of them as a parameter
never calls it (inside, ``min(a, b)`` would call the argument, not the builtin); and no function
binds one as a local variable (internal names never shadow builtins).
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "scratchnet").rglob("*.py"))


def allowed_builtin_names() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["ruff"]["lint"]["flake8-builtins"]["ignorelist"])


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {arg.arg for arg in every if arg is not None}


def own_nodes(function: ast.AST):
    """The nodes of a function's body, without descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))


def shadowing_problems(tree: ast.AST, allowed: set[str]) -> list[str]:
    problems = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        shadowing = parameters(function) & allowed
        for node in own_nodes(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in shadowing
            ):
                problems.append(f"line {node.lineno}: calls its parameter {node.func.id!r}")
            if (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Store)
                and node.id in allowed - shadowing
            ):
                problems.append(f"line {node.lineno}: local variable {node.id!r}")
    return problems


def test_the_allowed_builtin_names_are_builtins_that_scratchnet_uses():
    allowed = allowed_builtin_names()
    assert allowed <= set(dir(builtins)), allowed - set(dir(builtins))
    used = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                used.add(node.name)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                used |= parameters(node)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                used.add(node.id)
    assert allowed <= used, f"listed but never used, remove from the list: {allowed - used}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_shadowed_builtin_is_never_called_or_bound_as_a_local(path):
    problems = shadowing_problems(ast.parse(path.read_text(), str(path)), allowed_builtin_names())
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_shadowing_check_finds_both_mistakes():
    source = (
        "def clamp(x, min=None, max=None):\n"
        "    low = min(x, 0)\n"  # calls the argument, not the builtin
        "    sum = low + 1\n"  # a local that shadows a builtin
        "    return sum\n"
    )
    problems = shadowing_problems(ast.parse(source), {"min", "max", "sum"})
    assert sorted(problems) == [
        "line 2: calls its parameter 'min'",
        "line 3: local variable 'sum'",
    ]
