"""What a lab submission may not do, found by reading its source and by watching it run.

Two kinds of rules, checked on the student's file before it runs (:func:`inspect_source`, the parent
process, which never imports the submission) and, for the ops a lab asks students to write, again
while it runs (:func:`install_runtime_guard`, in the grading subprocess):

- **Integrity** (every lab). Grading runs the student's code in the same process as the lab's
  tests, so code that could reach the grader (introspection, ``sys``/``os``/``gc``/``inspect``,
  ``getattr`` with a string, ``__import__``, ``exec``, dunder attributes such as ``__globals__``,
  rebinding an attribute of a module or class it imported, ``scratchnet.labs``) is refused before it
  runs: the submission scores 0 with a message naming the line and the rule. Ordinary lab code
  (NumPy, scratchnet's layers, loops, classes, ``super().__init__()``) never needs any of it.
- **Disallowed ops** (labs 1-3, listed in the lab's ``FORBIDDEN``): scratchnet's own version of an
  op the lab asks the student to write. Statically, every import and attribute path in the file is
  resolved through its aliases (``import scratchnet as s; s.ops.conv.conv2d``,
  ``from scratchnet.nn import functional as F; F.conv2d``); at run time the grader wraps those entry
  points, and a call made while one of the student's frames is on the stack is refused and
  recorded. Either way the task whose function made the call scores 0, with the call named.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Modules a lab file may import. Everything else (os, sys, gc, inspect, importlib, ctypes,
# pytest...) could reach the grader's own objects in the grading process.
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "numpy",
        "math",
        "typing",
        "collections",
        "dataclasses",
        "functools",
        "itertools",
        "time",
        "argparse",
        "pathlib",
        "matplotlib",
        "scratchnet",
        "random",
        "statistics",
        "enum",
        "abc",
        "numbers",
    }
)
# Builtins that reach objects by name, run text as code, or leave the process.
FORBIDDEN_BUILTINS = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "open",
        "breakpoint",
        "exit",
        "quit",
        "input",
        "help",
        "memoryview",
        "__builtins__",
        "__loader__",
        "__spec__",
    }
)
# Dunder attributes ordinary code uses; every other one (__globals__, __dict__, __class__,
# __subclasses__, __code__, __traceback__ ...) is a door into the interpreter.
ALLOWED_DUNDERS = frozenset(
    {"__init__", "__call__", "__name__", "__len__", "__getitem__", "__iter__", "__repr__"}
)
# Attribute names that lead to the interpreter, the file
# system or the grader whatever object they are read on.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "labs",
        "sys",
        "os",
        "gc",
        "inspect",
        "importlib",
        "builtins",
        "modules",
        "ctypes",
        "ctypeslib",
        "subprocess",
        "format_map",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_code",
        "tb_frame",
        "tb_next",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "gi_code",
        "co_code",
        "co_consts",
        "mro",
        # writing files: a submission could rewrite the lab's test files (or a module they import)
        # in the grading folder before pytest reads them
        "write_text",
        "write_bytes",
        "touch",
        "unlink",
        "rename",
        "chmod",
        "symlink_to",
        "hardlink_to",
        "savetxt",
        "tofile",
        "memmap",
        "open_memmap",
    }
)

# A str.format field that reaches an attribute or an item of its argument ("{0.gi_frame}",
# "{x[0]}"): what "{:.3f}" or "{} of {}" never need. The part before ':' or '!' is the field name.
FORMAT_FIELD_LOOKUP = re.compile(r"\{[^{}:!]*[.\[][^{}]*\}")


@dataclass
class Finding:
    """One rule broken at one line: ``kind`` is "integrity" or "disallowed"."""

    kind: str
    line: int
    scope: str  # the dotted def around the line ("Conv2dFunction.forward"), "" at module level
    message: str


def inspect_source(
    source: str, filename: str, forbidden: Iterable[str] = (), siblings: Iterable[str] = ()
) -> list[Finding]:
    """Every integrity rule and every disallowed op the source breaks, in line order.

    Parameters
    ----------
    source : str
        The student's file.
    filename : str
        Its name, for the messages.
    forbidden : iterable of str
        Dotted names of scratchnet's ops the lab asks students to write
        (a module stands for all of it).
    siblings : iterable of str
        The other modules of the handout (lab 9's ``make_dataset``), which the file may import.
    """
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return []  # the grading run reports the syntax error, with its line
    forbidden = tuple(forbidden)
    objects = {id(obj) for entry in forbidden for obj, _ in _resolve(entry)}
    visitor = _Inspector(filename, forbidden, frozenset(siblings), objects)
    visitor.visit(tree)
    return sorted(visitor.findings, key=lambda f: f.line)


class _Inspector(ast.NodeVisitor):
    def __init__(
        self, filename: str, forbidden: tuple[str, ...], siblings: frozenset[str], objects: set[int]
    ) -> None:
        self.filename, self.forbidden, self.siblings, self.objects = (
            filename,
            forbidden,
            siblings,
            objects,
        )
        # local name -> the dotted module path or object it stands for
        self.aliases: dict[str, str] = {}
        self.imported: set[str] = set()  # names bound by an import (module or object)
        self.scopes: list[str] = []
        self.findings: list[Finding] = []

    def _add(self, kind: str, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 0)
        self.findings.append(
            Finding(kind, line, ".".join(self.scopes), f"{self.filename}, line {line}: {message}")
        )

    def _refuse(self, node: ast.AST, message: str) -> None:
        self._add(
            "integrity",
            node,
            message + " (not allowed in a lab submission: it could reach the grader)",
        )

    def _check_path(self, node: ast.AST, path: str) -> None:
        # By name, and by what the name is:
        # scratchnet.nn.Conv2d is scratchnet.nn.conv.Conv2d re-exported.
        same_object = path.startswith("scratchnet.") and id(_lookup(path)) in self.objects
        for entry in self.forbidden:
            if same_object or path == entry or path.startswith(entry + "."):
                self._add(
                    "disallowed",
                    node,
                    f"uses {path}, scratchnet's own version of what this lab asks you "
                    "to write; write it yourself from NumPy",
                )
                return

    def _import_allowed(self, module: str) -> bool:
        root = module.split(".")[0]
        return (root in ALLOWED_IMPORTS or module in self.siblings) and not module.startswith(
            "scratchnet.labs"
        )

    # scopes
    def _visit_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scopes.append(node.name)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_scope

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not self._import_allowed(alias.name):
                self._refuse(node, f"imports {alias.name}")
                continue
            self._check_path(node, alias.name)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
            self.imported.add(local)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not self._import_allowed(module):
            self._refuse(node, f"imports from {'.' * node.level}{module}")
            return
        for alias in node.names:
            path = f"{module}.{alias.name}"
            if (
                alias.name == "*"
                or path.startswith("scratchnet.labs")
                or alias.name in FORBIDDEN_ATTRIBUTES
            ):
                self._refuse(node, f"imports {path}")
                continue
            self._check_path(node, path)
            local = alias.asname or alias.name
            self.aliases[local] = path
            self.imported.add(local)

    # names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_BUILTINS:
            self._refuse(node, f"uses {node.id}")
        elif (
            isinstance(node.ctx, ast.Load)
            and node.id in self.aliases
            and "." in self.aliases[node.id]
        ):
            self._check_path(node, self.aliases[node.id])
        elif isinstance(node.ctx, ast.Store) and node.id in self.imported:
            self.imported.discard(node.id)  # rebound to something of the student's own
            self.aliases.pop(node.id, None)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
            self._refuse(node, f"reads the attribute {name}")
        elif name in FORBIDDEN_ATTRIBUTES:
            self._refuse(node, f"reads the attribute .{name}")
        elif (
            name.startswith("_")
            and not name.endswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            self._refuse(
                node, f"reads the private attribute .{name} of an object that is not its own"
            )
        root, path = _dotted(node)
        if root is not None and root in self.imported:
            if isinstance(node.ctx, ast.Store | ast.Del):
                self._refuse(node, f"assigns {path}, an attribute of something it imported")
            full = self.aliases[root] + path[len(root) :]
            self._check_path(node, full)
            return  # the chain is judged whole; its inner Attribute nodes are prefixes of it
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        names = re.findall(r"__\w+?__", node.value) if isinstance(node.value, str) else []
        if any(name not in ALLOWED_DUNDERS and name != "__main__" for name in names):
            self._refuse(
                node, "holds a string with a dunder name (a way to reach attributes by name)"
            )
        elif isinstance(node.value, str) and FORMAT_FIELD_LOOKUP.search(node.value):
            self._refuse(
                node, "holds a format string that looks up attributes or items (use an f-string)"
            )


def _lookup(path: str) -> object:
    """The object a dotted scratchnet path names
    (in the grader's own process: scratchnet is trusted), or None.
    """
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            try:
                module = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
        obj: object = module
        for part in parts[cut:]:
            obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
            if obj is None:
                return None
        return obj
    return None


def _dotted(node: ast.expr) -> tuple[str | None, str]:
    """("np", "np.linalg.norm") for the expression np.linalg.norm;
    (None, "") when not a plain chain.
    """
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None, ""
    parts.append(node.id)
    return node.id, ".".join(reversed(parts))


class DisallowedCallError(RuntimeError):
    """Raised in the student's code when it calls
    scratchnet's own version of an op the lab asks for.
    """


def install_runtime_guard(
    forbidden: Iterable[str], student_files: Iterable[str], on_violation: Callable[[str, str], None]
) -> int:
    """Wrap scratchnet's entry points named in ``forbidden``
    so that a call from the student's code is refused.

    A call is the student's when a frame of one of ``student_files`` (absolute paths) is on the
    stack: the lab's tests may call the reference themselves, the student's functions may not,
    directly or through a helper. ``on_violation(message, scope)`` records the call and the
    qualified name of the student's function that made it (the innermost student frame); then
    :class:`DisallowedCallError` is raised in the student's code. Returns the number of entry points
    wrapped.
    """
    files = frozenset(student_files)
    targets: dict[int, tuple[object, str]] = {}
    for entry in forbidden:
        for obj, name in _resolve(entry):
            targets[id(obj)] = (obj, name)

    def guarded(original: Callable, name: str) -> Callable:
        def wrapper(*args, **kwargs):
            frame = sys._getframe(1)
            while frame is not None:
                if frame.f_code.co_filename in files:
                    where = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}, line {frame.f_lineno}"
                    message = (
                        f"not allowed: {where} calls {name}, scratchnet's own version of what this "
                        "lab asks you to write"
                    )
                    on_violation(message, frame.f_code.co_qualname)
                    raise DisallowedCallError(message)
                frame = frame.f_back
            return original(*args, **kwargs)

        wrapper.__wrapped_by_grader__ = original
        return wrapper

    count = 0
    replacements: dict[int, Callable] = {}
    for obj, name in targets.values():
        if isinstance(obj, type):
            for method in ("forward", "backward"):
                if method in vars(obj):
                    setattr(obj, method, guarded(vars(obj)[method], f"{name}.{method}"))
                    count += 1
        elif callable(obj):
            replacements[id(obj)] = guarded(obj, name)
            count += 1
    # A function is reachable under every name a scratchnet module gave it
    # (F.conv2d re-exports ops.conv.conv2d).
    for module_name, module in list(sys.modules.items()):
        if module is None or not (
            module_name == "scratchnet" or module_name.startswith("scratchnet.")
        ):
            continue
        for key, value in list(vars(module).items()):
            if id(value) in replacements:
                setattr(module, key, replacements[id(value)])
    return count


def _resolve(entry: str) -> list[tuple[object, str]]:
    """The callables a ``FORBIDDEN`` entry names: one object, or everything a module defines."""
    parts = entry.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        break
    else:
        raise ImportError(f"FORBIDDEN names {entry}, which does not exist")
    if isinstance(obj, type(sys)):
        own = [
            (k, v)
            for k, v in vars(obj).items()
            if callable(v) and getattr(v, "__module__", None) == obj.__name__
        ]
        return [(v, f"{entry}.{k}") for k, v in own if not k.startswith("_")]
    return [(obj, entry)]
