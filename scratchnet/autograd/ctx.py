"""PyTorch's way to write a custom op: ``class F(torch.autograd.Function)`` with a ``ctx``.

What PyTorch calls the same thing as scratchnet's own ``Function`` (the teaching form in
``scratchnet/engine.py``: ``forward(self, *arrays)``/``backward(self, *gradient_arrays)``, called as
``Square()(x)``). PyTorch's form: ``@staticmethod forward(ctx, ...)`` on tensors and other
arguments, ``ctx.save_for_backward(...)``, ``@staticmethod backward(ctx, *grads)``, called as
``Square.apply(x)``. ``apply`` runs such a class through scratchnet's own protocol:
``CtxFunction`` is an ordinary scratchnet Function whose forward and backward call the static
methods, and it is itself the ``ctx`` (in PyTorch too, ``ctx`` is the graph node).

``Function.apply`` is installed on the engine's ``Function`` at the end of this file: the engine
sits below this module and cannot import it.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

from scratchnet.backend import Array, get_xp
from scratchnet.engine import Function, is_grad_enabled, no_grad
from scratchnet.tensor import Tensor


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
        # Their arrays as attributes too: the version check and free() see them.
        for i, t in enumerate(tensors):
            if isinstance(t, Tensor):
                setattr(self, f"saved_array_{i}", t.array)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if self.freed:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time (or to read "
                "saved_tensors after backward freed them); pass retain_graph=True to the first "
                "backward()"
            )
        return self.to_save

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        self.non_differentiable.update(id(t) for t in outputs)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Say that forward changed these inputs in place and returns them (``ctx.mark_dirty``).

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
        # What backward gives an output the loss does not use: zeros of this shape.
        self.output_zeros = [(get_xp(t.array), t.shape, t.dtype) for t in outputs]
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
        if len(grads) > len(self.args) and all(g is None for g in grads[len(self.args) :]):
            grads = grads[: len(self.args)]  # trailing Nones are accepted, as in PyTorch
        if len(grads) != len(self.args):
            raise RuntimeError(
                f"function {self.name}Backward returned an incorrect number of gradients "
                f"(expected {len(self.args)}, got {len(grads)}): one per argument of forward, "
                "None for non-tensors"
            )
        gxs = []
        for arg, grad in zip(self.args, grads, strict=True):
            if not isinstance(arg, Tensor):
                if grad is not None:
                    raise RuntimeError(
                        f"function {self.name}Backward returned a gradient for the non-tensor "
                        f"argument {arg!r}; "
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
            f"{definition.__name__}.apply(...) is PyTorch's protocol and needs @staticmethod "
            "forward(ctx, ...) and backward(ctx, ...); a scratchnet-style Function "
            "(forward(self, *arrays)) is called as "
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
    graph keeps both versions without a cycle, and every later use of the input goes through the
    node.
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
                f"{node.name}: a leaf Variable that requires grad is being used in an in-place "
                "operation "
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


def apply(cls: type[Function], *args: Any) -> Any:
    """Call a PyTorch-style Function (``@staticmethod forward(ctx, ...)``): ``MyFunction.apply(x)``.

    scratchnet's own Functions are called as ``MyFunction()(x)``.
    """
    return apply_with_ctx(cls, *args)


Function.apply = classmethod(apply)  # installed here: see the module docstring
