"""``record_calls(model)``: every module call of a forward pass, recorded with forward hooks.

The one recorder behind ``summary`` (parameters, MACs, activations per layer), ``receptive_field``
(the field of each module's output) and the lessons' tables. It does what one writes by hand in
PyTorch to look inside a model -- ``register_forward_pre_hook`` and ``register_forward_hook`` on
every module -- and removes the hooks on exit::

    with record_calls(model) as calls:
        model(x)
    for call in calls:                  # in the order the calls started: containers first
        print(call.name, type(call.module).__name__, call.input_shapes, call.output_shape)

A module called twice (a ResNet block's shared ReLU) gives two records; ``parent`` is the call that
was running when this one started (the container whose ``forward`` made it), so a table can add a
layer's cost to every container around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scratchnet.nn.module import Module
from scratchnet.tensor import Tensor

__all__ = ["ModuleCall", "record_calls"]


@dataclass(eq=False)
class ModuleCall:
    """One call of one module: who ran, on what shapes, inside which call, and what it returned."""

    name: str  # dotted name, as in state_dict: "layer1.0.conv1" ("" for the model itself)
    module: Module
    parent: ModuleCall | None  # the call in progress when this one started
    input_shapes: list[tuple[int, ...]]  # of the Tensor arguments
    output: Any = None  # what forward returned; set when the call returns

    @property
    def depth(self) -> int:
        """1 for a direct child of the model, 2 for its children, ... (0 for the model itself)."""
        return self.name.count(".") + 1 if self.name else 0

    @property
    def is_leaf(self) -> bool:
        """True for a module without sub-modules (a layer, not a container)."""
        return next(self.module.children(), None) is None

    @property
    def outputs(self) -> list[Tensor]:
        """The Tensors in the output, in order (tuples, lists and dicts are searched through)."""
        return _tensors(self.output)

    @property
    def output_shape(self) -> tuple[int, ...] | list[tuple[int, ...]]:
        """The output's shape, or a list of shapes when the module returned several Tensors."""
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes


def _tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


@contextmanager
def record_calls(
    model: Module, types: tuple[type, ...] | None = None
) -> Iterator[list[ModuleCall]]:
    """Record the calls of ``model`` and its sub-modules (only those of ``types`` if given).

    Yields the list that the calls are appended to, in the order they start; each record's
    ``output`` is filled in when its call returns. The hooks are removed on exit, also after an
    error. The model's mode and gradients are the caller's business (run it under ``no_grad``
    for a table, with gradients for a graph walk).
    """
    calls: list[ModuleCall] = []
    running: list[ModuleCall] = []  # the calls in progress: the current one and its ancestors

    def before(name: str) -> Callable[[Module, tuple[Any, ...]], None]:
        def hook(module: Module, args: tuple[Any, ...]) -> None:
            shapes = [a.shape for a in args if isinstance(a, Tensor)]
            call = ModuleCall(name, module, running[-1] if running else None, shapes)
            calls.append(call)
            running.append(call)

        return hook

    def after(module: Module, args: tuple[Any, ...], output: Any) -> None:
        running.pop().output = output

    handles = []
    for name, module in model.named_modules():
        if types is None or isinstance(module, types):
            handles.append(module.register_forward_pre_hook(before(name)))
            handles.append(module.register_forward_hook(after))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()
