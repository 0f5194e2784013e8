"""The graph engine: recording ops into the graph, and walking it backward. Read top to bottom.

1. **Switches.** ``no_grad()`` turns recording off (evaluation, parameter updates);
   ``detect_anomaly()`` checks every op's outputs and gradients for NaN/Inf.
2. **Recording.** Calling a ``Function`` on tensors runs its ``forward`` on their arrays and, when
   an input requires grad, records the call: each output remembers the Function (``creator``), the
   Function remembers its inputs and their versions. The graph is built as the code runs.
3. **The backward walk** (``backward``): from the loss back to the leaves. Functions come off a
   heap, latest generation first, so a Function runs only after every op that used its outputs
   has sent its gradient back; no recursion, so a 5,000-layer chain or a DenseNet is fine. Before
   each ``backward`` the Function checks that nothing it saved was changed in place since forward
   (``check_saved_versions``), and after it that each gradient has its input's shape
   (``check_gradients``). A leaf's gradient is accumulated, DeZero's one line:
   ``x.grad = gx if x.grad is None else x.grad + gx`` (the sum written into the existing
   ``.grad``, as PyTorch does).
4. **In-place changes** (``apply_inplace``): ``x += y``, ``x.relu_()``, ``x[i] = v`` inside a
   graph are recorded like any op, and counted in the tensor's version.

Subclasses of ``Function`` implement two methods on plain arrays (NumPy or CuPy):

* ``forward(*xs) -> y`` (or a tuple of outputs), saving what backward needs as attributes;
* ``backward(*gys) -> gx`` (or a tuple, one per input; ``None`` for an input with no gradient).

Saved arrays and in-place changes. ``forward`` saves arrays that ``backward`` reads later (Mul
keeps both inputs, Relu its output). If one of them is changed in place in between (``a[0] = 100``,
``a.zero_()``, ``optimizer.step()``), backward would compute a silently wrong gradient. So every
tensor counts its in-place changes (``Tensor._version``, shared with its views), the recording
notes the versions of the inputs and outputs, and ``check_saved_versions`` raises PyTorch's error
if a tensor whose memory the Function saved is at another version now. Changes to tensors a
Function did not save are fine (Add saves nothing).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from scratchnet.backend import Array, device_of, get_xp
from scratchnet.dtypes import CATEGORY
from scratchnet.tensor import Tensor, _check_writeable, _is_array

# ====================================================================== 1. switches


class _GradMode:
    """Global switches, changed only through the context managers below."""

    enabled = True  # record the graph for backward
    detect_anomaly = False  # check every op's outputs and gradients for NaN/Inf


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


# ====================================================================== 2. recording

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
        maybe_view = getattr(first, "base", None) is not None or (
            inputs and first is inputs[0].array
        )
        if is_tuple or maybe_view:
            # A view of an input (y.base is set) shares that memory, and its version counter.
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
            # Where each input's gradient goes: its creator now. An in-place op may give the input
            # a new creator later (y.add_(1) after z = y * 3); z's gradient still goes to the old.
            self.input_creators = [t.creator for t in inputs]
            if self.makes_view:  # otherwise every output is new, at version 0 (see output_versions)
                self.output_versions = [r._version for r in results]
            self.generation = max([t.generation for t in inputs])
            self.order = next(_call_counter)
            for result in results:
                # Only floating outputs carry gradients (max's indices do not).
                if result.dtype.kind == "f":
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
                    f"{described}, {role} of {type(self).__name__}, is a view of that op's input "
                    f"and is at version {tensor._version}; expected version {expected} instead: "
                    "the memory it views was changed in place after the view was taken, and "
                    "scratchnet does not replay views (PyTorch does). Take the view after the "
                    "change, or clone() it"
                )
            memory = _memory_of(tensor.array)
            for name, value in vars(self).items():
                serves = self.saved_for_input_grad.get(name)
                if serves is not None and not inputs[serves].requires_grad:
                    continue
                if _is_array(value) and _memory_of(value) is memory:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: {described}, {role} of {type(self).__name__} "
                        "(saved as "
                        f"`{name}`), is at version {tensor._version}; expected version {expected} "
                        "instead. Find the in-place change between forward and backward (+=, add_, "
                        "x[i] = ..., zero_(), optimizer.step()) and make it out of place, or "
                        "clone() the tensor before changing it"
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
        # creator and output index, or the leaf itself), cheap; next_functions builds the nodes
        # if asked.
        self.freed_steps = tuple(map(_step_back, self.inputs or (), self.input_creators or ()))
        self.inputs = self.input_creators = None
        self.freed = True

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """The graph one step back, as PyTorch shows it: one ``(node, output_index)`` per input.

        The node is the input's creator, an ``AccumulateGrad`` for a leaf that requires grad, or
        None for an input without gradient. After backward freed the graph (its saved arrays and
        inputs), the nodes stay, as in PyTorch: the steps are those recorded when it was freed.
        """
        return next_functions_of(self)


# ====================================================================== 3. the backward walk


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Compute d tensor / d leaf for every leaf that requires grad, adding it to ``leaf.grad``.

    (``Tensor.backward``.)

    Parameters
    ----------
    gradient : Tensor or array, same shape as the tensor, optional
        The upstream gradient d L / d tensor. Needed unless the tensor has a single element.
    retain_graph : bool
        Keep the graph (and the arrays the ops saved) so backward can run through it again.
    """
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no creator; did you forget "
            "requires_grad=True on the inputs, or compute it under no_grad()?"
        )
    xp = get_xp(tensor.array)
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {tensor.shape} needs a `gradient` of that "
                "shape; for a loss, reduce it to a scalar first (e.g. loss.mean())"
            )
        seed = xp.ones_like(tensor.array)
    else:
        given = gradient.array if isinstance(gradient, Tensor) else gradient
        seed = xp.asarray(given, dtype=tensor.dtype)
        if seed.shape != tensor.shape:
            raise RuntimeError(
                f"backward(): gradient has shape {seed.shape}, expected {tensor.shape}"
            )
    run_backward(tensor, seed, retain_graph)


def run_backward(root: Tensor, seed: Array, retain_graph: bool) -> None:
    """The walk: from ``root`` (with d L / d root = ``seed``) back to every leaf."""
    kept = {id(seed)}  # arrays already held elsewhere: the caller may still hold the seed
    if root.creator is None:
        accumulate(root, seed, kept)
        return
    # Gradient received so far by each non-leaf, keyed by id. The tensor is kept beside it: once
    # its consumer is freed, this entry is what keeps it alive until its creator runs.
    pending: dict[int, tuple[Tensor, Array]] = {id(root): (root, seed)}
    heap: list[tuple[int, int, Function]] = []
    queued: set[int] = set()

    def schedule(function: Function) -> None:
        if id(function) not in queued:
            queued.add(id(function))
            # Latest generation first; among equals, the most recently created first.
            heapq.heappush(heap, (-function.generation, -function.order, function))

    schedule(root.creator)
    while heap:
        function = heapq.heappop(heap)[2]
        if function.freed:
            raise RuntimeError(
                f"backward through {function.name} a second time: its saved arrays were freed "
                "after the first backward; pass retain_graph=True to the first backward() call"
            )
        outputs = [ref() for ref in function.outputs]  # None for an output that is gone
        gys = [None if out is None else pending.pop(id(out), (None, None))[1] for out in outputs]
        for out, gy in zip(outputs, gys, strict=True):
            if gy is not None and out._retains_grad:
                accumulate(out, gy, kept)
        function.check_saved_versions(outputs)
        gxs = function.backward(*gys)
        gxs = gxs if isinstance(gxs, tuple) else (gxs,)
        function.check_gradients(gxs)
        if _GradMode.detect_anomaly:
            check_finite(function, "backward", gxs, function.inputs)
        for x, creator, gx in zip(function.inputs, function.input_creators, gxs, strict=True):
            if x.creator is not creator:  # changed in place since: the old values' stand-in
                x = _stand_in_of(x, creator)
            if gx is None or x is None or not x.requires_grad:
                continue
            if id(gx) not in kept and _held_by(function, gx):
                kept.add(id(gx))  # a .grad gets a copy: it must not share the op's memory
            if x.creator is None:  # a leaf: its .grad is what the walk is for
                accumulate(x, gx, kept)
            else:  # sum what x receives from each of its consumers, then run its creator
                previous = pending.get(id(x))
                pending[id(x)] = (x, gx if previous is None else previous[1] + gx)
                schedule(x.creator)
        if not retain_graph:
            function.free()


def _stand_in_of(x: Tensor, creator: Function | None) -> Tensor | None:
    """The tensor that holds x's place as ``creator``'s output since x was changed in place.

    ``apply_inplace`` gave x a new creator and put a stand-in (same array) among the old
    creator's outputs; an op that read x before the change sends its gradient there, as PyTorch
    does. None if x had no creator then: a tensor that did not require grad, so no gradient.
    """
    if creator is None:
        return None
    for ref in creator.outputs:
        stand_in = ref()
        if stand_in is not None and stand_in.array is x.array:
            return stand_in
    raise RuntimeError(
        f"backward: a tensor of shape {x.shape} was changed in place after {creator.name} made "
        "it, and the graph no longer holds its old values; clone() it before the change"
    )


def accumulate(x: Tensor, gx: Array, kept: set[int]) -> None:
    """Add the gradient ``gx`` into ``x.grad``: DeZero's one line, on arrays.

    A leaf's ``.grad`` from an earlier backward is added to in place, as PyTorch does: whoever
    holds that Tensor (a list of gradients kept for logging) sees the sum, not a stale gradient.
    A new Tensor is made instead for a ``.grad`` this walk took without a copy (``kept``: that
    array may still be on its way to another input, x + w sends one array to both), one the sum
    cannot be written into (set by the user to another dtype, device or a read-only array), and a
    retained non-leaf gradient (PyTorch also makes a new one there).
    """
    grad = x.grad
    if grad is not None and x.is_leaf and _can_add_into(grad.array, gx, x.dtype, kept):
        grad.array += gx
        grad._bump_version()
        return
    total = gx if grad is None else grad.array + gx
    x.grad = Tensor(_owned_gradient(total, x.dtype, kept))


def _can_add_into(grad: Array, gx: Array, dtype: np.dtype, kept: set[int]) -> bool:
    """True if ``grad += gx`` is PyTorch's in-place accumulation: a writeable array of the same
    shape, dtype and device that is not one of this walk's own arrays.
    """
    writeable = getattr(getattr(grad, "flags", None), "writeable", True)  # CuPy: always
    same = grad.dtype == dtype and grad.shape == gx.shape and type(grad) is type(gx)
    return writeable and same and id(grad) not in kept


def _held_by(function: Function, g: Array) -> bool:
    """True if ``g`` lives in memory ``function`` holds: an input's or a saved array's.

    A backward may return such an array as it is (``return ctx.saved_tensors[0]``, ``return
    self.w``); as a ``.grad`` it would then change with that tensor, and change it when the
    optimizer or the next backward writes into the ``.grad``.
    """
    if not getattr(getattr(g, "flags", None), "owndata", False):
        return False  # a view: _owned_gradient copies it anyway
    held = [t.array for t in function.inputs or ()]
    for value in vars(function).values():
        held.append(value.array if isinstance(value, Tensor) else value)
    return any(_is_array(h) and _memory_of(h) is g for h in held)


def _owned_gradient(g: Array, dtype: np.dtype, kept: set[int]) -> Array:
    """``g`` as an array of ``dtype`` that belongs to this ``.grad`` alone, copied only if needed.

    An optimizer may change ``.grad`` in place, so a ``.grad`` must not share memory with anything.
    ``g`` is kept as it is when it owns its memory (not a view, such as the read-only broadcast a
    sum sends back), has the dtype, and is not already held (``kept``: the caller's seed, and the
    one array an add sends to both of its inputs). Not copying a fresh gradient saves a copy of
    every weight gradient (392 MiB for VGG16's first fully connected layer).
    """
    owns_memory = getattr(getattr(g, "flags", None), "owndata", False)
    if not (owns_memory and g.dtype == dtype and id(g) not in kept):
        g = get_xp(g).asarray(g).astype(dtype)  # astype copies
    kept.add(id(g))
    return g


# ====================================================================== 4. in-place changes


def apply_inplace(tensor: Tensor, name: str, op: Any, *operands: Any) -> Tensor:
    """Change ``tensor`` in place to ``op(tensor, *operands)``; the graph records the change.

    1. A leaf that requires grad (a parameter) may change only under ``no_grad()``: its
       ``.grad`` is d loss / d (this very tensor), which an in-place change would make a lie.
    2. Outside a graph (``no_grad``, or nothing requires grad) the result is written into the
       tensor's memory and the version goes up by one.
    3. Inside a graph, a stand-in tensor (same memory, same version counter) takes the tensor's
       old place in the graph; ``op`` runs on the stand-in, out of place, and is recorded; the
       result is written into the tensor's memory, and the tensor object takes the op as its new
       creator (PyTorch "rebases" it the same way). Arrays the op saved from the old values are
       copied first (Mul saves its input), and the op's saved output now points to this memory,
       so a later in-place change is caught (Relu saves its output).
    """
    recording = _GradMode.enabled
    if recording and tensor.requires_grad and tensor.is_leaf:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation. "
            "A parameter may be changed in place only inside `with scratchnet.no_grad():` "
            "(as an optimizer does)"
        )
    needs_graph = recording and (
        tensor.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)
    )
    if needs_graph and tensor._base is not None:
        # Its base would hold values the graph does not know how it got (PyTorch re-records the
        # base; scratchnet refuses rather than give the base a wrong gradient).
        raise RuntimeError(
            f"{name}: this tensor of shape {tensor.shape} is a view of another tensor (x[...], "
            "reshape, transpose), and scratchnet does not record in-place changes of views in a "
            "graph (PyTorch does). Change the base tensor (x[i] = ... on it), or clone() the view"
        )
    if not needs_graph:
        with no_grad():
            result = op(tensor, *operands)
        write_in_place(tensor, name, result.array)
        return tensor

    stand_in = _stand_in_for(tensor)
    result = op(stand_in, *[stand_in if o is tensor else o for o in operands])
    # Checked before the graph changes: a refused op leaves it as it was.
    check_in_place_result(tensor, name, result.array)
    _hand_place_over(tensor, stand_in)
    function = result.creator
    # Saved old values of the tensor are copied, as PyTorch saves "original self"; but as the
    # other operand too (y.mul_(y)) it is saved by reference, and backward will refuse it.
    keeps_old_values = not any(o is tensor for o in operands)
    memory = _memory_of(tensor.array)
    for key, value in list(vars(function).items()):
        if keeps_old_values and _is_array(value) and _memory_of(value) is memory:
            setattr(function, key, value.copy())
    write_in_place(tensor, name, result.array)
    for key, value in list(vars(function).items()):  # the saved output now lives here
        if value is result.array:
            setattr(function, key, tensor.array)
    function.outputs = [weakref.ref(tensor)]
    # Expect the memory as it is now: the old values it held were copied above.
    function.output_versions = [tensor._version]
    if keeps_old_values:
        function.input_versions = [
            tensor._version if t is stand_in else v
            for t, v in zip(function.inputs, function.input_versions, strict=True)
        ]
    tensor.creator, tensor.generation, tensor.requires_grad = function, result.generation, True
    return tensor


def rebase_fused(tensor: Tensor, function: Function) -> None:
    """Make ``function`` (a copy of the tensor's creator that has absorbed an in-place op, which
    has already written the tensor and bumped its version) the tensor's creator.

    As in ``apply_inplace``, a stand-in takes the tensor's old place among the old creator's
    outputs, so an op that read the old values still sends its gradient to the old creator;
    ``function.stand_in`` keeps it alive until ``function`` is freed.
    """
    stand_in = _stand_in_for(tensor)
    _hand_place_over(tensor, stand_in)
    function.stand_in = stand_in
    function.outputs = [weakref.ref(tensor)]
    function.output_versions = [tensor._version]  # the memory as it is now
    function.order = next(_call_counter)  # the heap must never compare two Functions
    tensor.creator = function


def _stand_in_for(tensor: Tensor) -> Tensor:
    """A tensor with the same memory and version counter, to hold the tensor's old graph place."""
    stand_in = Tensor(tensor.array)
    stand_in._version_counter = tensor._shared_version_counter()
    if tensor.creator is not None:
        stand_in.creator, stand_in.generation = tensor.creator, tensor.generation
        stand_in.requires_grad = True
    return stand_in


def _hand_place_over(tensor: Tensor, stand_in: Tensor) -> None:
    """Put ``stand_in`` where ``tensor`` stood among its creator's outputs."""
    if tensor.creator is not None:
        tensor.creator.outputs = [
            weakref.ref(stand_in) if ref() is tensor else ref for ref in tensor.creator.outputs
        ]


def write_in_place(tensor: Tensor, name: str, array: Array) -> None:
    """Write ``array`` (an in-place op's result) into the tensor's memory; count the change."""
    check_in_place_result(tensor, name, array)
    tensor.array[...] = array
    tensor._bump_version()


def check_in_place_result(tensor: Tensor, name: str, array: Array) -> None:
    """Raise unless ``array`` can be written into the tensor: same shape, a castable dtype."""
    if tuple(array.shape) != tensor.shape:
        raise RuntimeError(
            f"{name}: the result has shape {tuple(array.shape)}, but this tensor has shape "
            f"{tensor.shape}; an in-place op cannot change a tensor's shape (broadcasting goes to "
            "the other operand only)"
        )
    if CATEGORY[array.dtype.kind] > CATEGORY[tensor.dtype.kind]:
        raise RuntimeError(
            f"{name}: result type {array.dtype} can't be cast to the desired output type "
            f"{tensor.dtype} of this tensor (PyTorch's rule: in place, a float result cannot go "
            "into an integer tensor); convert first, e.g. x = x.float()"
        )
    _check_writeable(tensor, name)


# ====================================================================== helpers


class AccumulateGrad:
    """The node PyTorch shows for a leaf in ``next_functions``: it adds into ``variable.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_functions: tuple[tuple[Any, int], ...] = ()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad for a leaf of shape {tuple(self.variable.shape)}>"


def next_functions_of(function: Function) -> tuple[tuple[Any, int], ...]:
    """``grad_fn.next_functions``: per input ``(creator, output index)``, ``(AccumulateGrad, 0)``
    or ``(None, 0)``.
    """
    if (
        function.inputs is None
    ):  # freed by backward: the steps it recorded then (never called: none)
        recorded = getattr(function, "freed_steps", ())
    else:
        recorded = tuple(map(_step_back, function.inputs, function.input_creators))
    steps: list[tuple[Any, int]] = []
    for creator, index_or_leaf in recorded:
        if creator is not None:
            steps.append((creator, index_or_leaf))
        elif index_or_leaf is not None:
            steps.append((AccumulateGrad(index_or_leaf), 0))
        else:
            steps.append((None, 0))
    return tuple(steps)


def _step_back(x: Tensor, creator: Function | None) -> tuple[Any, Any]:
    """Where input ``x`` (made by ``creator`` when the op read it) sends its gradient next:
    ``(creator, output index)``, ``(None, leaf)`` or ``(None, None)``.
    """
    if x.creator is not creator:  # changed in place since: its old values' stand-in
        x = _stand_in_of(x, creator)
        if x is None:
            return (None, None)
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
    """Raise if the inputs live on different devices: a NumPy and a CuPy array cannot meet."""
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
