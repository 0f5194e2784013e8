"""The Function base class: one differentiable op, its forward and its backward, side by side.

Calling a Function on tensors runs ``forward`` on their arrays and, when a gradient is needed,
records the call in the graph: each output tensor remembers the Function that created it
(``creator``), and the Function remembers its inputs. ``Tensor.backward`` later walks that graph
from the loss back to the leaves, calling each Function's ``backward``.

Subclasses implement two methods on plain arrays (NumPy or CuPy):

* ``forward(*xs) -> y`` (or a tuple of outputs), saving what backward needs as attributes;
* ``backward(*gys) -> gx`` (or a tuple, one per input; ``None`` for an input with no gradient).

Saved arrays and in-place changes. ``forward`` saves arrays that ``backward`` reads later (Mul
keeps both inputs, Relu its output). If one of them is changed in place in between (``a[0] = 100``,
``a.zero_()``, ``optimizer.step()``), backward would compute a silently wrong gradient. So every
tensor counts its in-place changes (``Tensor._version``, shared with its views), ``__call__`` notes
the versions of the inputs and outputs, and before ``backward`` runs the walk calls
``check_saved_versions``: if a tensor whose memory the Function saved is at another version now,
it raises PyTorch's error. Changes to tensors a Function did not save are fine (Add saves nothing).

Also here: ``no_grad`` (switch graph recording off) and ``detect_anomaly`` (stop at the first op
that produces NaN or Inf).
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from scratchnet.backend import Array, device_of, get_xp


class _GradMode:
    """Global switches, changed only through the context managers below."""

    enabled = True  # record the graph for backward
    detect_anomaly = False  # check every op's outputs and gradients for NaN/Inf


# A global counter gives every recorded call a creation number: the backward walk breaks ties
# between Functions of equal generation by it, so the order is deterministic.
_call_counter = itertools.count()


class GradientShapeError(RuntimeError):
    """A ``backward`` returned a gradient whose shape is not its input's (named in the message)."""


class Function:
    """Base class of every differentiable op: ``forward`` and ``backward`` on arrays, side by side.

    A subclass saves in ``forward`` what its ``backward`` needs, under a name, and returns one
    array per output; ``backward`` receives one upstream gradient per output and returns one
    gradient per input (``None`` where an input gets none). ``__call__`` unwraps the tensors,
    runs ``forward`` and records the call in the graph when a gradient is needed.

    Example
    -------
    >>> class Square(Function):
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * x
    ...     def backward(self, gy):
    ...         return 2 * self.x * gy  # d(x^2)/dx = 2x, times the upstream gradient
    >>> import scratchnet as sn
    >>> x = sn.tensor([3.0], requires_grad=True)
    >>> Square()(x).backward()
    >>> x.grad
    tensor([6.])
    """

    generation: int = 0
    inputs: tuple[Tensor, ...] | None = None
    freed: bool = False
    makes_view = False  # an output shares its input's memory (reshape, x[0:2], transpose, ...)
    output_versions: list[int] | None = None  # None: every output at version 0, as new tensors are
    # Saved arrays that serve the gradient of one input only ({"a": 1}: Mul's a is read only for
    # b's gradient): a change to them is harmless when that input needs no gradient (x * 2 later
    # changed in place, as in PyTorch, which saves only what the inputs that need grad need).
    saved_for_input_grad: dict[str, int] = {}  # noqa: RUF012 (read-only, overridden per op)

    def __call__(self, *inputs: Tensor) -> Any:
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"{self.name}: {not_a_tensor(t)}")
        if len(inputs) > 1:
            _check_same_device(self, inputs)
        outputs = self.forward(*[t.array for t in inputs])
        is_tuple = isinstance(outputs, tuple)
        if not is_tuple:
            outputs = (outputs,)
        results = tuple([Tensor(y) for y in outputs])
        first = outputs[0]
        if (
            is_tuple
            or getattr(first, "base", None) is not None
            or (inputs and first is inputs[0].array)
        ):
            # Maybe a view of an input (y.base is set): it shares that memory, and its version counter.
            for result in results:
                self.makes_view |= _share_version_if_view(result, inputs)

        if _GradMode.enabled and any([t.requires_grad for t in inputs]):
            # Record the call: the inputs for backward, the outputs weakly (they own this Function
            # through .creator, and a cycle would keep the graph alive after they are gone).
            self.inputs = inputs
            self.outputs = [weakref.ref(result) for result in results]
            # The versions backward expects to find (see check_saved_versions): an int per tensor.
            self.input_versions = [
                0 if t._version_counter is None else t._version_counter[0] for t in inputs
            ]
            if self.makes_view:  # otherwise every output is new, at version 0 (see output_versions)
                self.output_versions = [r._version for r in results]
            self.generation = max([t.generation for t in inputs])
            self.order = next(_call_counter)
            for result in results:
                if (
                    result.dtype.kind == "f"
                ):  # only floating outputs carry gradients (max's indices do not)
                    result.requires_grad = True
                    result.creator = self
                    result.generation = self.generation + 1
        if _GradMode.detect_anomaly:
            check_finite(self, "forward", outputs, inputs)
        return results if is_tuple else results[0]

    def forward(self, *xs: Array) -> Array | tuple[Array, ...]:
        raise NotImplementedError

    def backward(self, *gys: Array) -> Array | tuple[Array | None, ...] | None:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The op's name for messages: ``MulFunction`` -> ``Mul``."""
        return type(self).__name__.removesuffix("Function")

    def check_saved_versions(self, outputs: list[Tensor | None]) -> None:
        """Raise if an array this Function saved for backward was changed in place since forward.

        Called by the backward walk just before ``backward``. Cheap when nothing changed (the usual
        case): one int comparison per input and output. Only when a version differs does it look at
        which arrays the Function saved (its array attributes) and whether one of them lives in the
        changed tensor's memory; a changed tensor that was not saved (Add's inputs) is fine.
        """
        inputs = self.inputs or ()
        now = [0 if t._version_counter is None else t._version_counter[0] for t in inputs]
        output_versions = self.output_versions or [0] * len(outputs)
        now_out = [
            expected if t is None else 0 if t._version_counter is None else t._version_counter[0]
            for t, expected in zip(outputs, output_versions, strict=True)
        ]  # an output that is gone cannot have changed
        if now == self.input_versions and now_out == output_versions:
            return  # nothing changed: the usual case, a few int comparisons
        changed = [
            (f"output {i}", t, expected)
            for i, (t, expected) in enumerate(zip(outputs, output_versions, strict=True))
            if t is not None and t._version != expected
        ]
        changed += [
            (f"input {i}", t, expected)
            for i, (t, expected) in enumerate(zip(inputs, self.input_versions, strict=True))
            if t._version != expected
        ]
        for role, tensor, expected in changed:
            described = f"[Tensor of shape {tuple(tensor.shape)}, {tensor.dtype}]"
            if self.makes_view and role.startswith("output"):
                raise RuntimeError(
                    f"{described}, {role} of {type(self).__name__}, is a view of that op's input and is "
                    f"at version {tensor._version}; expected version {expected} instead: the memory it "
                    "views was changed in place after the view was taken, and scratchnet does not "
                    "replay views (PyTorch does). Take the view after the change, or clone() it"
                )
            memory = _memory_of(tensor.array)
            for name, value in vars(self).items():
                serves = self.saved_for_input_grad.get(name)
                if serves is not None and not inputs[serves].requires_grad:
                    continue
                if _is_array(value) and _memory_of(value) is memory:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified by an "
                        f"inplace operation: {described}, {role} of {type(self).__name__} (saved as "
                        f"`{name}`), is at version {tensor._version}; expected version {expected} "
                        "instead. Find the in-place change between forward and backward (+=, add_, "
                        "x[i] = ..., zero_(), optimizer.step()) and make it out of place, or clone() "
                        "the tensor before changing it"
                    )

    def check_gradients(self, gxs: tuple[Any, ...]) -> None:
        """Raise if ``backward`` returned the wrong number of gradients, or one of the wrong shape.

        d L / d x has the shape of x, always: a gradient of another shape (a missing ``sum_to``
        after broadcasting, a transposed matmul) would otherwise be added into ``.grad`` silently,
        or fail much later with NumPy's broadcast message. ``None`` means "no gradient" (zeros),
        PyTorch's convention for a custom Function.
        """
        inputs = self.inputs or ()
        name = type(self).__name__
        if len(gxs) != len(inputs):
            raise RuntimeError(
                f"{name}.backward returned {len(gxs)} gradient(s) for {len(inputs)} input(s); "
                "return one per input of forward, None for an input that gets no gradient"
            )
        for i, (x, gx) in enumerate(zip(inputs, gxs, strict=True)):
            if gx is None or not x.requires_grad:
                continue
            if not _is_array(gx):
                raise TypeError(
                    f"{name}.backward returned a {type(gx).__name__} for input {i}; it must return "
                    "arrays (NumPy or CuPy), as forward receives them"
                )
            if gx.shape != x.shape:
                raise GradientShapeError(
                    f"{name}.backward returned a gradient of shape {tuple(gx.shape)} for input {i} "
                    f"of shape {tuple(x.shape)}; the gradient of an input has that input's shape"
                )

    def free(self) -> None:
        """Drop the arrays saved for backward and the links to the inputs (the graph is freed)."""
        for key, value in list(vars(self).items()):
            if _is_array(value):
                delattr(self, key)
        # The graph's shape outlives its arrays, as in PyTorch: keep each input's step back (its
        # creator and output index, or the leaf itself), cheap; next_functions builds the nodes if asked.
        self.freed_steps = tuple(_step_back(x) for x in self.inputs or ())
        self.inputs = None
        self.freed = True

    # ---- PyTorch compatibility (issue 14)

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Call a PyTorch-style Function (``@staticmethod forward(ctx, ...)``): ``MyFunction.apply(x)``.

        scratchnet's own Functions are called as ``MyFunction()(x)``; ``scratchnet.autograd`` has
        the ``ctx`` protocol, what PyTorch calls the same thing.
        """
        from scratchnet.autograd import apply_with_ctx  # autograd.py builds on this module

        return apply_with_ctx(cls, *args)

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """The graph one step back, as PyTorch shows it: one ``(node, output_index)`` per input.

        The node is the input's creator, an ``AccumulateGrad`` for a leaf that requires grad, or
        None for an input without gradient. After backward freed the graph (its saved arrays and
        inputs), the nodes stay, as in PyTorch: the steps are those recorded when it was freed.
        """
        from scratchnet.autograd import next_functions_of

        return next_functions_of(self)


def _step_back(x: Tensor) -> tuple[Any, Any]:
    """Where input ``x``'s gradient goes next: ``(creator, output index)``, ``(None, leaf)``, ``(None, None)``."""
    if x.creator is not None:
        outputs = x.creator.outputs
        index = 0 if len(outputs) == 1 else next(i for i, ref in enumerate(outputs) if ref() is x)
        return (x.creator, index)
    return (None, x if x.requires_grad else None)


def not_a_tensor(value: Any) -> str:
    """The message for an op handed something that is not a Tensor (a NumPy array, a list)."""
    kind = type(value).__qualname__
    if type(value).__module__ not in ("builtins", None):
        kind = f"{type(value).__module__.split('.')[0]}.{kind}"  # numpy.ndarray, cupy.ndarray
    shape = f" of shape {tuple(value.shape)}" if hasattr(value, "shape") else ""
    return (
        f"expected a scratchnet Tensor, got {kind}{shape}; "
        "wrap it with scratchnet.tensor(x) or scratchnet.from_numpy(x)"
    )


def _is_array(value: Any) -> bool:
    """True for a NumPy or CuPy array (what forward saves and backward returns)."""
    if type(value) is np.ndarray:  # the usual case, without the two attribute look-ups
        return True
    return hasattr(value, "__array_interface__") or hasattr(value, "__cuda_array_interface__")


def _memory_of(array: Array) -> Any:
    """The object that owns an array's memory: the array itself, or the array it is a view of."""
    base = getattr(array, "base", None)
    return array if base is None else base


def _share_version_if_view(result: Tensor, inputs: tuple[Tensor, ...]) -> bool:
    """If ``result`` lives in an input's memory, make it a view of that input; True if it does.

    A view shares its base's version counter (an in-place change through either is one change to
    the same memory), and ``result._base`` names the base, as in PyTorch.
    """
    memory = _memory_of(result.array)
    for t in inputs:
        if _memory_of(t.array) is memory:
            result._base = t if t._base is None else t._base
            result._version_counter = t._shared_version_counter()
            return True
    return False


def _check_same_device(function: Function, inputs: tuple[Tensor, ...]) -> None:
    """Raise if the inputs live on different devices: a NumPy and a CuPy array cannot meet in one op."""
    array_type = type(inputs[0].array)
    if all([type(t.array) is array_type for t in inputs]):  # the common case, quick to check
        return
    device = device_of(inputs[0].array)
    if all([device_of(t.array) == device for t in inputs]):
        return
    described = ", ".join(f"{device_of(t.array)} {tuple(t.shape)}" for t in inputs)
    raise RuntimeError(
        f"{function.name}: expected all tensors on the same device, got {described}; "
        "move them with .to(device), .cuda() or .cpu() first"
    )


def check_finite(function: Function, stage: str, arrays: Any, inputs: Any = ()) -> None:
    """Raise if any array is NaN or Inf (used under ``detect_anomaly``)."""
    for array in arrays:
        if array is None or not get_xp(array).issubdtype(array.dtype, get_xp(array).floating):
            continue
        if not bool(get_xp(array).isfinite(array).all()):
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs) or "-"
            raise FloatingPointError(
                f"detect_anomaly: {function.name} produced NaN or Inf in its {stage} "
                f"(output of shape {tuple(array.shape)}, inputs of shapes {shapes})"
            )


# --------------------------------------------------------------------------- switches


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator that turns graph recording off (``torch.no_grad``).

    Use it for evaluation and for updating parameters: ops run, but nothing is remembered for
    backward, which saves memory and time.
    """

    def __init__(self) -> None:
        # A stack, not one saved value: as a decorator, this one object is entered again by every
        # call, also by a call nested in another (a recursive function).
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_GradMode.enabled)
        _GradMode.enabled = False

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._previous.pop()


class enable_grad(contextlib.ContextDecorator):
    """Turn graph recording back on inside a ``no_grad`` block (``torch.enable_grad``)."""

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack, as in no_grad

    def __enter__(self) -> None:
        self._previous.append(_GradMode.enabled)
        _GradMode.enabled = True

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._previous.pop()


def is_grad_enabled() -> bool:
    """True when ops record the graph (outside ``no_grad``)."""
    return _GradMode.enabled


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose forward or backward produces NaN or Inf, naming it.

    A debugging aid (``torch.autograd.detect_anomaly``): it checks every array, so it is slow.
    """
    previous, _GradMode.detect_anomaly = _GradMode.detect_anomaly, True
    try:
        yield
    finally:
        _GradMode.detect_anomaly = previous


def anomaly_mode_enabled() -> bool:
    """True inside ``detect_anomaly()``."""
    return _GradMode.detect_anomaly


# Imported last because tensor.py's operators call the ops, which are Functions: the circle
# tensor -> ops -> function -> tensor closes here, after every name above exists.
from scratchnet.tensor import Tensor  # noqa: E402
