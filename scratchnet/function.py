"""The Function base class: one differentiable op, its forward and its backward, side by side.

Calling a Function on tensors runs ``forward`` on their arrays and, when a gradient is needed,
records the call in the graph: each output tensor remembers the Function that created it
(``creator``), and the Function remembers its inputs. ``Tensor.backward`` later walks that graph
from the loss back to the leaves, calling each Function's ``backward``.

Subclasses implement two methods on plain arrays (NumPy or CuPy):

* ``forward(*xs) -> y`` (or a tuple of outputs), saving what backward needs as attributes;
* ``backward(*gys) -> gx`` (or a tuple, one per input; ``None`` for an input with no gradient).

Also here: ``no_grad`` (switch graph recording off) and ``detect_anomaly`` (stop at the first op
that produces NaN or Inf).
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections.abc import Iterator
from typing import Any

from scratchnet.backend import Array, device_of, get_xp


class _GradMode:
    """Global switches, changed only through the context managers below."""

    enabled = True  # record the graph for backward
    detect_anomaly = False  # check every op's outputs and gradients for NaN/Inf


# A global counter gives every recorded call a creation number: the backward walk breaks ties
# between Functions of equal generation by it, so the order is deterministic.
_call_counter = itertools.count()


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

    def __call__(self, *inputs: Tensor) -> Any:
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"{self.name}: {not_a_tensor(t)}")
        if len(inputs) > 1:
            _check_same_device(self, inputs)
        outputs = self.forward(*[t.data for t in inputs])
        is_tuple = isinstance(outputs, tuple)
        if not is_tuple:
            outputs = (outputs,)
        results = tuple([Tensor(y) for y in outputs])

        if _GradMode.enabled and any([t.requires_grad for t in inputs]):
            # Record the call: the inputs for backward, the outputs weakly (they own this Function
            # through .creator, and a cycle would keep the graph alive after they are gone).
            self.inputs = inputs
            self.outputs = [weakref.ref(result) for result in results]
            self.generation = max([t.generation for t in inputs])
            self.order = next(_call_counter)
            for result in results:
                if result.dtype.kind == "f":  # only floating outputs carry gradients (max's indices do not)
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

    def free(self) -> None:
        """Drop the arrays saved for backward and the links to the inputs (the graph is freed)."""
        for key, value in list(vars(self).items()):
            if hasattr(value, "__array_interface__") or hasattr(value, "__cuda_array_interface__"):
                delattr(self, key)
        self.freed_next_functions = self.next_functions  # the graph's shape outlives its arrays, as in PyTorch
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


def _check_same_device(function: Function, inputs: tuple[Tensor, ...]) -> None:
    """Raise if the inputs live on different devices: a NumPy and a CuPy array cannot meet in one op."""
    array_type = type(inputs[0].data)
    if all([type(t.data) is array_type for t in inputs]):  # the common case, quick to check
        return
    device = device_of(inputs[0].data)
    if all([device_of(t.data) == device for t in inputs]):
        return
    described = ", ".join(f"{device_of(t.data)} {tuple(t.shape)}" for t in inputs)
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
