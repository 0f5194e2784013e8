"""Receptive field, jump and start of every layer, read off the graph of a real forward pass.

For one spatial axis, three numbers describe where a feature map's pixels look in the input:

* size r: how many input pixels one output pixel depends on (its receptive field);
* jump j: how far apart, in input pixels, the fields of two neighbouring output pixels are
  (the effective stride: the product of the strides so far);
* start s: the centre of the first output pixel's field, in input pixel coordinates (input pixel i
  has centre i; a negative start means the field hangs over the zero padding).

A window op (convolution, pooling) with kernel k, stride t, padding p and dilation d, whose
effective kernel is k' = d (k - 1) + 1, maps (r, j, s) of its input to::

    j_out = j * t
    r_out = r + (k' - 1) * j
    s_out = s + ((k' - 1) / 2 - p) * j

Element-wise ops (BN in eval mode, ReLU, addition) and channel concatenation keep the geometry;
where two branches meet (a residual addition, an Inception or DenseNet concatenation) the output
pixel sees the *union* of the branches' fields: the smallest interval holding both. An op that mixes
all positions (global pooling, flatten, an SE block's channel scale) makes the field the whole
input ("global").

``receptive_field(model, input_size)`` runs the model once, records every module's output with
forward hooks, and then walks the recorded graph (``tensor.creator`` -> ``Function.inputs``) in
creation order, carrying (r, j, s) from the input to every tensor. So branches, dilations and
functional ops inside a module's ``forward`` are followed, not only ``nn.Sequential`` stacks.
The sizes are the theoretical ones: they can exceed the image, whose border then clips them.

``empirical_receptive_field`` checks the result the other way: it back-propagates from one output
pixel and measures where the input gradient is non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from scratchnet.analysis.recorder import ModuleCall, record_calls
from scratchnet.analysis.text_table import Column, render_table
from scratchnet.function import Function, enable_grad
from scratchnet.ops.conv import Conv2dFunction, Conv2dNaiveFunction
from scratchnet.ops.pool import AvgPool2dFunction, GlobalAvgPool2dFunction, MaxPool2dFunction
from scratchnet.ops.shape import GetItemFunction, PadFunction, PermuteFunction, ReshapeFunction
from scratchnet.tensor import Tensor

__all__ = [
    "EmpiricalField",
    "Field",
    "LayerField",
    "ReceptiveFields",
    "empirical_receptive_field",
    "receptive_field",
    "trace_fields",
]


@dataclass(frozen=True)
class Field:
    """Receptive field size, jump and start along (height, width). See the module docstring."""

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def bounds(self, axis: int) -> tuple[float, float]:
        """First and last input pixel of the first output pixel's field on ``axis`` (0: H, 1: W)."""
        half = (self.size[axis] - 1) / 2
        return self.start[axis] - half, self.start[axis] + half


#: The field of the input image itself: each pixel sees itself.
INPUT_FIELD = Field(size=(1, 1), jump=(1, 1), start=(0.0, 0.0))
#: Marker for "depends on the whole input" (after global pooling, flatten, an SE scale).
GLOBAL = None


def through_window(
    field: Field,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int] = (1, 1),
) -> Field:
    """The field after a window op (conv or pool): the three formulas of the module docstring."""
    size, jump, start = [], [], []
    for axis in range(2):
        j = field.jump[axis]
        k = dilation[axis] * (kernel[axis] - 1) + 1  # effective kernel: a dilated 3x3 (d=2) spans 5
        size.append(field.size[axis] + (k - 1) * j)
        jump.append(j * stride[axis])
        start.append(field.start[axis] + ((k - 1) / 2 - padding[axis]) * j)
    return Field(tuple(size), tuple(jump), tuple(start))


def union(fields: Sequence[Field | None]) -> Field | None:
    """Where branches meet: the smallest field holding all of them (global if any is global)."""
    if any(f is GLOBAL for f in fields) or len({f.jump for f in fields}) > 1:
        return GLOBAL  # different jumps cannot meet pixel for pixel: no single field describes it
    size, start = [], []
    for axis in range(2):
        low = min(f.bounds(axis)[0] for f in fields)
        high = max(f.bounds(axis)[1] for f in fields)
        size.append(round(high - low) + 1)
        start.append((low + high) / 2)
    return Field(tuple(size), fields[0].jump, tuple(start))


# --------------------------------------------------------------------------- one rule per op


def _spatial(t: Tensor) -> tuple[int, ...] | None:
    """(H, W) of an (N, C, H, W) or (C, H, W) tensor, None for tensors without a spatial grid."""
    return tuple(t.shape[-2:]) if t.ndim >= 3 else None


def _conv(function: Function, field: Field, x: Tensor, y: Tensor) -> Field:
    return through_window(field, *function.window)  # kernel_size, stride, padding, dilation


def _max_pool(function: Function, field: Field, x: Tensor, y: Tensor) -> Field:
    return through_window(field, *function.window)  # ceil_mode adds windows at the end only


def _avg_pool(function: Function, field: Field, x: Tensor, y: Tensor) -> Field:
    return through_window(field, *function.window)


def _pad(function: Function, field: Field, x: Tensor, y: Tensor) -> Field:
    # Padding by b in front shifts every output pixel b places: pixel 0 of the output is padding.
    before = [function.widths[axis][0] for axis in (-2, -1)]
    return through_window(field, (1, 1), (1, 1), before)


def _getitem(function: Function, field: Field, x: Tensor, y: Tensor) -> Field | None:
    index = function.index if isinstance(function.index, tuple) else (function.index,)
    if y.ndim != x.ndim or len(index) > x.ndim or not all(isinstance(i, slice) for i in index):
        return GLOBAL if _spatial(x) != _spatial(y) else field  # channel picks keep the grid
    index = index + (slice(None),) * (x.ndim - len(index))
    starts_steps = [index[a].indices(x.shape[a])[::2] for a in (-2, -1)]  # (start, step) per axis
    offset, step = zip(*starts_steps, strict=True)
    return through_window(field, (1, 1), step, [-o for o in offset])  # x[a::t]: stride t, pad -a


def _permute(function: Function, field: Field, x: Tensor, y: Tensor) -> Field | None:
    n = len(function.dims)
    if tuple(function.dims[-2:]) == (n - 2, n - 1):
        return field
    if tuple(function.dims[-2:]) == (n - 1, n - 2):  # H and W swapped
        return Field(field.size[::-1], field.jump[::-1], field.start[::-1])
    return GLOBAL


def _reshape(function: Function, field: Field, x: Tensor, y: Tensor) -> Field | None:
    # The same (H, W) before and after, e.g. adding a batch dimension: the grid is kept.
    same_grid = _spatial(x) is not None and _spatial(x) == _spatial(y)
    return field if same_grid else GLOBAL  # flatten: every position in one vector


def _global(function: Function, field: Field, x: Tensor, y: Tensor) -> None:
    return GLOBAL


#: Ops that move pixels, with their rule. Any other op keeps the grid if its output has the same
#: (H, W) as its inputs (element-wise ops, BN, concatenation along channels) and is global if not.
RULES: dict[type, Callable[..., Field | None]] = {
    Conv2dFunction: _conv,
    Conv2dNaiveFunction: _conv,
    MaxPool2dFunction: _max_pool,
    AvgPool2dFunction: _avg_pool,
    GlobalAvgPool2dFunction: _global,
    PadFunction: _pad,
    GetItemFunction: _getitem,
    PermuteFunction: _permute,
    ReshapeFunction: _reshape,
}


def _output_field(
    function: Function, inputs: list[tuple[Tensor, Field | None]], y: Tensor
) -> Field | None:
    """The field of output ``y`` of ``function``, given its inputs that depend on the image."""
    # By class and its bases: a fast kernel's Function subclasses the reference one of ops/.
    rule = next((RULES[cls] for cls in type(function).__mro__ if cls in RULES), None)
    if rule is not None:
        if len(inputs) != 1 or inputs[0][0] is not function.inputs[0]:
            return GLOBAL  # the kernel itself depends on the image: no fixed geometry
        x, field = inputs[0]
        return GLOBAL if field is GLOBAL else rule(function, field, x, y)
    if _spatial(y) is None or any(_spatial(x) != _spatial(y) for x, _ in inputs):
        return GLOBAL  # e.g. an (N, C, 1, 1) excitation broadcast over (N, C, H, W)
    return union([field for _, field in inputs])


def trace_fields(
    image: Tensor, outputs: Sequence[Tensor]
) -> dict[int, tuple[Tensor, Field | None]]:
    """Field of every tensor computed from ``image`` on the way to ``outputs``, keyed by ``id``.

    The graph must have been recorded (``image.requires_grad``, outside ``no_grad``). Functions are
    visited in creation order, which puts every op after the ops that made its inputs.
    """
    functions, seen, todo = [], set(), [t.creator for t in outputs if t.creator is not None]
    while todo:  # collect the graph iteratively (a DenseNet's is deep)
        function = todo.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        functions.append(function)
        todo.extend(t.creator for t in function.inputs if t.creator is not None)
    functions.sort(key=lambda f: f.order)

    fields: dict[int, tuple[Tensor, Field | None]] = {id(image): (image, INPUT_FIELD)}
    for function in functions:
        # Inputs computed from the image; the weights and other constants have no field.
        inputs = [fields[id(t)] for t in function.inputs if id(t) in fields]
        if not inputs:
            continue
        for ref in function.outputs:
            y = ref()
            if y is not None:
                fields[id(y)] = (y, _output_field(function, inputs, y))
    return fields


# --------------------------------------------------------------------------- per module


@dataclass(frozen=True)
class LayerField:
    """One module call: its dotted name, type, output shape, and the field of its output.

    ``size``, ``jump`` and ``start`` are None when the output depends on the whole input.
    """

    name: str
    type: str
    depth: int
    is_leaf: bool
    output_shape: tuple[int, ...]
    field: Field | None

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self.field is None else self.field.size

    @property
    def jump(self) -> tuple[int, int] | None:
        return None if self.field is None else self.field.jump

    @property
    def start(self) -> tuple[float, float] | None:
        return None if self.field is None else self.field.start


@dataclass
class ReceptiveFields:
    """The result of ``receptive_field``: one ``LayerField`` per module call, in call order."""

    rows: list[LayerField]
    input_shape: tuple[int, ...]

    def __getitem__(self, name: str) -> LayerField:
        """The (last) call of the module called ``name``, e.g. ``fields["features.28"]``."""
        for row in reversed(self.rows):
            if row.name == name:
                return row
        raise KeyError(f"no module called {name!r} ran in the forward pass")

    def table(self, depth: int | None = None) -> str:
        """Aligned text: leaf layers only (``depth=None``) or every module down to ``depth``."""
        rows = [r for r in self.rows if (r.is_leaf if depth is None else r.depth <= depth)]
        indent = (lambda r: "  " * (r.depth - 1)) if depth is not None else (lambda r: "")
        columns = [
            Column("layer", "Layer (type)", align="<"),
            Column("output_shape", "Output shape"),
            *(Column(key, header) for key, header in _FIELD_COLUMNS),
        ]
        cells = [
            {
                "layer": f"{indent(r)}{r.name} ({r.type})",
                "output_shape": str(r.output_shape),
                **dict(zip(_FIELD_KEYS, _describe(r.field), strict=True)),
            }
            for r in rows
        ]
        notes = (
            "RF size and jump in input pixels; start = centre of the first output pixel's field "
            "(input pixel i has centre i); 'global' = depends on the whole input."
        )
        return render_table(columns, cells, indent="", frame=True) + "\n" + notes

    def __str__(self) -> str:
        return self.table()


_FIELD_COLUMNS = (("size", "RF size"), ("jump", "Jump"), ("start", "Start"))
_FIELD_KEYS = tuple(key for key, _ in _FIELD_COLUMNS)


def _describe(field: Field | None) -> tuple[str, str, str]:
    if field is None:
        return ("global", "-", "-")

    def show(values: tuple[float, float]) -> str:
        text = [f"{v:g}" for v in values]
        return text[0] if text[0] == text[1] else "x".join(text)

    return show(field.size), show(field.jump), show(field.start)


def receptive_field(model: Any, input_size: Sequence[int]) -> ReceptiveFields:
    """Receptive field size, jump and start of every module's output, following every branch.

    Parameters
    ----------
    model : scratchnet.nn.Module
        Run once in eval mode (BatchNorm then acts pixel by pixel); its modes are restored after.
    input_size : (C, H, W) or (N, C, H, W)
        Only geometry matters: any size the model accepts gives the same fields (except for
        adaptive pooling with unequal windows, reported as global).

    Example
    -------
    >>> from scratchnet import nn
    >>> stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    >>> receptive_field(stack, (1, 16, 16))["2"].size   # three 3x3 convs see 7x7, like one 7x7
    (7, 7)
    """
    shape = tuple(input_size) if len(input_size) == 4 else (1, *input_size)
    image = Tensor(
        np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True
    )
    with _frozen_eval(model), record_calls(model) as calls, enable_grad():
        model(image)
        outputs = [_first_output(call) for call in calls]
        fields = trace_fields(image, [t for t in outputs if t is not None])
    rows = []
    for call, output in zip(calls, outputs, strict=True):
        if output is None or call.parent is None:
            continue  # the model itself (its logits are global) and non-tensor outputs
        field = fields[id(output)][1] if id(output) in fields else GLOBAL
        module_type = type(call.module).__name__
        rows.append(
            LayerField(call.name, module_type, call.depth, call.is_leaf, output.shape, field)
        )
    return ReceptiveFields(rows, shape)


def _first_output(call: ModuleCall) -> Tensor | None:
    """The Tensor a module returned (the first one, for a module returning a tuple or list)."""
    output = call.output[0] if isinstance(call.output, tuple | list) else call.output
    return output if isinstance(output, Tensor) else None


@contextmanager
def _frozen_eval(model: Any) -> Iterator[None]:
    """Eval mode and parameters frozen (only the image needs a graph); both undone on exit."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad = False
    try:
        yield
    finally:
        for module, mode in modes:
            module.training = mode
        for p, flag in flags:
            p.requires_grad = flag


# --------------------------------------------------------------------------- the empirical check


@dataclass(frozen=True)
class EmpiricalField:
    """Where the input gradient of one output pixel is non-zero.

    ``bounds``: (first, last) input pixel per axis; ``size`` and ``center`` follow from them;
    ``clipped``: the support touches the image border, so the field may be larger than measured.
    """

    bounds: tuple[tuple[int, int], tuple[int, int]]
    position: tuple[int, int]
    clipped: bool

    @property
    def size(self) -> tuple[int, int]:
        return tuple(high - low + 1 for low, high in self.bounds)

    @property
    def center(self) -> tuple[float, float]:
        return tuple((low + high) / 2 for low, high in self.bounds)


def empirical_receptive_field(
    model: Any,
    input_size: Sequence[int],
    layer: str,
    position: Sequence[int] | None = None,
    batch_size: int = 2,
    seed: int = 0,
) -> EmpiricalField:
    """Measure the receptive field of one pixel of ``layer``'s output by back-propagation.

    The input gradient of a single output pixel is non-zero exactly where that pixel depends on the
    input, up to two effects: a ReLU that is off or a max-pool window that picks another element
    blocks a path for one image. With random weights and inputs and several channels such blocked
    paths are covered by others, and a batch of random images (the support is their union) covers
    the rest, so the support equals the theoretical field unless the image border clips it.

    Parameters
    ----------
    layer : str
        Dotted module name whose output to probe, e.g. ``"features.28"`` or ``"layer4"``.
    position : (int, int), optional
        Output pixel (row, column); the centre of the map by default.
    """
    shape = tuple(input_size) if len(input_size) == 4 else (batch_size, *input_size)
    rng = np.random.default_rng(seed)
    image = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    with _frozen_eval(model), record_calls(model) as calls, enable_grad():
        model(image)
        outputs = [_first_output(call) for call in calls if call.name == layer]
        if not outputs or outputs[-1] is None or outputs[-1].ndim != 4:
            raise ValueError(
                f"module {layer!r} did not produce an (N, C, H, W) output in the forward pass"
            )
        out = outputs[-1]
        H, W = out.shape[2:]
        row, col = (H // 2, W // 2) if position is None else position
        seed_grad = np.zeros(out.shape, dtype=out.dtype)
        # One pixel, every channel, random weights (so that no two paths cancel by symmetry).
        seed_grad[:, :, row, col] = rng.standard_normal(out.shape[:2])
        out.backward(seed_grad)
    support = np.abs(image.grad.numpy()).sum(axis=(0, 1)) > 0  # (H, W)
    if not support.any():
        raise RuntimeError(
            f"no gradient reached the input from pixel {(row, col)} of {layer!r}: "
            "every path is blocked (ReLUs off for these inputs?); try another seed, more channels "
            "or He initialisation"
        )
    rows, cols = np.nonzero(support.any(axis=1))[0], np.nonzero(support.any(axis=0))[0]
    bounds = ((int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1])))
    clipped = (
        bounds[0][0] == 0
        or bounds[1][0] == 0
        or bounds[0][1] == shape[2] - 1
        or bounds[1][1] == shape[3] - 1
    )
    return EmpiricalField(bounds, (row, col), clipped)
