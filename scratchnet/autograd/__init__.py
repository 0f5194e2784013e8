"""``scratchnet.autograd``: the autograd switches and helpers under PyTorch's names (``torch.autograd``).

Everything here is defined elsewhere (the graph machinery in ``function.py`` and ``tensor.py``,
the checker in ``gradcheck.py``); this module only gathers it where PyTorch users look for it:

* ``no_grad()``, ``enable_grad()``, ``is_grad_enabled()``: switch graph recording off and on;
* ``detect_anomaly()``: raise at the first op whose forward or backward produces NaN or Inf,
  naming that op and the shapes involved;
* ``backward(tensors, grad_tensors)``: one backward pass from several outputs at once;
* ``gradcheck(fn, inputs)``: compare backward with finite differences; ``Function``: the op base class.

``Function`` speaks two dialects. scratchnet's own (the teaching form, ``function.py``): a subclass
implements ``forward(self, *arrays)`` and ``backward(self, *gradient_arrays)`` and is called as
``Square()(x)``. PyTorch's (what PyTorch calls the same thing): ``@staticmethod forward(ctx, ...)``
on tensors and other arguments, ``ctx.save_for_backward(...)``, ``@staticmethod backward(ctx,
*grads)``, called as ``Square.apply(x)``. ``apply`` runs such a class through scratchnet's own
protocol: ``CtxFunction`` is an ordinary scratchnet Function whose forward and backward call the
static methods, and it is itself the ``ctx`` (in PyTorch too, ``ctx`` is the graph node).

``Variable`` is PyTorch's deprecated alias: ``Variable(t, requires_grad=True)`` returns a Tensor.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Sequence
from typing import Any

from scratchnet.backend import Array, get_xp
from scratchnet.function import (
    Function,
    _step_back,
    anomaly_mode_enabled,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
)
from scratchnet.gradcheck import GradcheckError, gradcheck
from scratchnet.tensor import Tensor

is_anomaly_enabled = anomaly_mode_enabled  # PyTorch's name


def backward(
    tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool = False
) -> None:
    """Accumulate into every leaf's ``.grad`` the gradient of sum_i <grad_tensors[i], tensors[i]>.

    One walk over the graph for all the outputs together (``torch.autograd.backward``): a leaf
    reached from several outputs gets the sum of their gradients. ``grad_tensors`` may be omitted
    for outputs with a single element.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(
            f"backward: got {len(tensors)} tensors but {len(grad_tensors)} grad_tensors"
        )
    total = None
    for t, g in zip(tensors, grad_tensors, strict=True):
        if g is None and t.array.size != 1:
            raise RuntimeError(
                f"backward: grad_tensors must be given for the output of shape {t.shape}"
            )
        term = t.sum() if g is None else (t * (g if isinstance(g, Tensor) else Tensor(g))).sum()
        total = term if total is None else total + term
    total.backward(retain_graph=retain_graph)


# ---------------------------------------------------------------------- PyTorch's ctx protocol


class CtxFunction(Function):
    """The graph node of one ``apply`` call of a PyTorch-style Function, and its ``ctx``.

    ``forward`` receives the arrays of the tensor arguments, puts them back among the other
    arguments as tensors, and calls the user's static ``forward(ctx, ...)`` with recording off (as
    PyTorch does: the user's forward is one node, not a subgraph). ``backward`` calls the user's
    static ``backward(ctx, *grads)`` and returns the gradients of the tensor arguments as arrays.
    """

    def __init__(self, definition: type[Function], args: tuple[Any, ...]) -> None:
        self.definition, self.args = definition, args
        self.to_save: tuple[Any, ...] = ()
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        self.non_differentiable: set[int] = set()
        self.dirty: set[int] = set()

    @property
    def name(self) -> str:
        return self.definition.__name__

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep these tensors (or None) for backward; read them back as ``ctx.saved_tensors``."""
        self.to_save = tensors
        for i, t in enumerate(
            tensors
        ):  # their arrays as attributes: the version check and free() see them
            if isinstance(t, Tensor):
                setattr(self, f"saved_array_{i}", t.array)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if self.freed:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time (or to read "
                "saved_tensors after backward freed them); pass retain_graph=True to the first backward()"
            )
        return self.to_save

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        self.non_differentiable.update(id(t) for t in outputs)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Say that forward changed these inputs in place and returns them (PyTorch's ``ctx.mark_dirty``).

        After ``apply``, such an input IS the output (``y is x``, as in PyTorch): from then on it
        carries this node as its ``grad_fn``, so every later use of it backpropagates through here.
        """
        self.dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted: backward always gets a gradient for every output (zeros for an unused one)."""

    def forward(self, *arrays: Array) -> Array | tuple[Array, ...]:
        arrays_left = iter(arrays)
        args = [Tensor(next(arrays_left)) if isinstance(a, Tensor) else a for a in self.args]
        self.original_of = {
            id(new): a for new, a in zip(args, self.args, strict=True) if isinstance(a, Tensor)
        }
        with no_grad():
            if _overrides(self.definition, "setup_context"):  # PyTorch 2's split form
                outputs = self.definition.forward(*args)
                self.definition.setup_context(self, tuple(args), outputs)
            else:
                outputs = self.definition.forward(self, *args)
        self.output_is_tuple = isinstance(outputs, tuple)
        outputs = outputs if self.output_is_tuple else (outputs,)
        for output in outputs:
            if not isinstance(output, Tensor):
                raise TypeError(
                    f"{self.name}.forward must return tensors, got {type(output).__name__}"
                )
        self.output_ids = [id(t) for t in outputs]
        self.output_zeros = [
            (get_xp(t.array), t.shape, t.dtype) for t in outputs
        ]  # for unused outputs
        result = tuple(t.array for t in outputs)
        return result if self.output_is_tuple else result[0]

    def backward(self, *gys: Array) -> tuple[Array | None, ...]:
        # An output the loss does not use gets a zero gradient, as PyTorch's materialize_grads does.
        gys = [
            xp.zeros(shape, dtype) if g is None else g
            for g, (xp, shape, dtype) in zip(gys, self.output_zeros, strict=True)
        ]
        with no_grad():
            grads = self.definition.backward(self, *[Tensor(g) for g in gys])
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(self.args):
            raise RuntimeError(
                f"function {self.name}Backward returned an incorrect number of gradients "
                f"(expected {len(self.args)}, got {len(grads)}): one per argument of forward, None for non-tensors"
            )
        gxs = []
        for arg, grad in zip(self.args, grads, strict=True):
            if not isinstance(arg, Tensor):
                if grad is not None:
                    raise RuntimeError(
                        f"function {self.name}Backward returned a gradient for the non-tensor argument {arg!r}; "
                        "return None in its place"
                    )
                continue
            gxs.append(grad.array if isinstance(grad, Tensor) else grad)
        return tuple(gxs)

    def free(self) -> None:
        super().free()
        self.to_save = ()


def _overrides(definition: type, name: str) -> bool:
    return getattr(definition, name, None) is not getattr(Function, name, None)


def apply_with_ctx(definition: type[Function], *args: Any) -> Any:
    """``definition.apply(*args)``: run a PyTorch-style Function as one node of the graph."""
    if not isinstance(inspect.getattr_static(definition, "forward"), staticmethod):
        raise TypeError(
            f"{definition.__name__}.apply(...) is PyTorch's protocol and needs @staticmethod forward(ctx, ...) "
            f"and backward(ctx, ...); a scratchnet-style Function (forward(self, *arrays)) is called as "
            f"{definition.__name__}()(x)"
        )
    node = CtxFunction(definition, args)
    outputs = node(*[a for a in args if isinstance(a, Tensor)])
    if node.dirty:
        outputs = _rebind_dirty_inputs(node, outputs)
    if node.non_differentiable:
        for output, output_id in zip(
            outputs if node.output_is_tuple else (outputs,), node.output_ids, strict=True
        ):
            if output_id in node.non_differentiable:
                output.requires_grad, output.creator = False, None
    return outputs


def _rebind_dirty_inputs(node: CtxFunction, outputs: Any) -> Any:
    """Make each input that forward marked dirty the output itself, as PyTorch does.

    The input's identity so far (its creator, its place among that creator's outputs) moves to a
    stand-in tensor that becomes the node's input, and the input becomes the node's output: the
    graph keeps both versions without a cycle, and every later use of the input goes through the node.
    """
    originals = node.original_of  # forward's tensor arguments (by id) -> the caller's tensors
    listed = list(outputs) if node.output_is_tuple else [outputs]
    inputs = list(node.inputs) if node.inputs is not None else None
    for position, output_id in enumerate(node.output_ids):
        original = originals.get(output_id)
        if original is None or output_id not in node.dirty:
            continue
        if original.is_leaf and original.requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"{node.name}: a leaf Variable that requires grad is being used in an in-place operation "
                "(ctx.mark_dirty on a tensor with requires_grad=True); clone() it first"
            )
        made = listed[position]
        if inputs is not None:  # recorded: the node's input becomes a stand-in for the old version
            stand_in = Tensor(original.array)
            stand_in.requires_grad, stand_in.creator, stand_in.generation = (
                original.requires_grad,
                original.creator,
                original.generation,
            )
            if original.creator is not None:
                refs = original.creator.outputs
                refs[[ref() for ref in refs].index(original)] = weakref.ref(stand_in)
            inputs[[id(t) for t in inputs].index(id(original))] = stand_in
            node.outputs[position] = weakref.ref(original)
        original.requires_grad, original.creator, original.generation = (
            made.requires_grad,
            made.creator,
            made.generation,
        )
        listed[position] = original
    if inputs is not None:
        node.inputs = tuple(inputs)
    return tuple(listed) if node.output_is_tuple else listed[0]


def once_differentiable(backward: Any) -> Any:
    """PyTorch's ``@once_differentiable`` on a ctx ``backward``: it runs without recording a graph.

    scratchnet's ctx backward always runs so (no double backward through a custom Function), so
    this decorator changes nothing here; it exists so that code using it runs unchanged.
    """
    return backward


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
    """``grad_fn.next_functions``: ``(creator, output index)``, ``(AccumulateGrad, 0)`` or ``(None, 0)``."""
    if (
        function.inputs is None
    ):  # freed by backward: the steps it recorded then (never called: none)
        recorded = getattr(function, "freed_steps", ())
    else:
        recorded = tuple(_step_back(x) for x in function.inputs)
    steps: list[tuple[Any, int]] = []
    for creator, index_or_leaf in recorded:
        if creator is not None:
            steps.append((creator, index_or_leaf))
        elif index_or_leaf is not None:
            steps.append((AccumulateGrad(index_or_leaf), 0))
        else:
            steps.append((None, 0))
    return tuple(steps)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """PyTorch's deprecated ``Variable``: since PyTorch 0.4 a Tensor is all it returns, as here.

    The tensor shares ``data``'s array; ``volatile`` (removed in PyTorch 0.4) must stay False:
    use ``with scratchnet.no_grad():`` instead.
    """
    if volatile:
        raise RuntimeError(
            "Variable(volatile=True) was removed in PyTorch 0.4; use `with no_grad():`"
        )
    tensor = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        tensor = (
            Tensor(tensor.array, requires_grad=True)
            if not tensor.is_leaf
            else tensor.requires_grad_(True)
        )
    return tensor


__all__ = [
    "AccumulateGrad",
    "CtxFunction",
    "Function",
    "GradcheckError",
    "Variable",
    "anomaly_mode_enabled",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
]
