"""``summary(model, input_size)``: a layer-by-layer table of a real model, like torchinfo's.

The model runs once (eval mode, no graph, a batch of random numbers); forward hooks record, for
every module call, the output shape and what it cost:

* parameters: the learnable numbers of the layer. A parameter shared by two layers is counted once,
  in the first row that uses it, so the column adds up to the model's total;
* MACs, multiply-accumulates: one multiplication plus one addition, the unit of the lecture's
  "FLOPs" columns (ResNet's 3.8 x 10^9, GoogLeNet's "ops"). Counted for convolutions,
  ``Cout * OH * OW * (Cin / groups) * KH * KW`` per image, and linear layers, ``in * out``.
  BatchNorm, ReLU, pooling and additions are not counted: they are a small share, and papers leave
  them out too. **FLOPs = 2 x MACs** (a multiply and an add are two floating-point operations);
* activations: the number of values in the layer's output, and their memory in bytes. The
  lecture's VGG table counts these per image at 4 bytes each (float32) and notes that the
  backward pass roughly doubles it.

The calls are recorded by ``record_calls`` (``recorder.py``) and the table is drawn by
``render_table`` (``text_table.py``), the two helpers ``receptive_field`` and the lessons use too.
Rows come in the order the calls start, containers before their contents; ``table(depth=None)``
shows the leaf layers, ``table(depth=2)`` the tree down to two levels (a container's MACs are
the sum of its contents').
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scratchnet import nn
from scratchnet.analysis.recorder import ModuleCall, record_calls
from scratchnet.analysis.text_table import Column, render_table
from scratchnet.function import no_grad
from scratchnet.tensor import Tensor

__all__ = ["LayerSummary", "ModelSummary", "summary"]


@dataclass
class LayerSummary:
    """One module call."""

    name: str  # dotted name, as in state_dict: "layer1.0.conv1"
    type: str  # class name: "Conv2d"
    depth: int  # 1 for a direct child of the model
    is_leaf: bool  # no sub-modules
    output_shape: tuple[int, ...] | list[tuple[int, ...]] = ()
    params: int = 0  # leaf: parameters first counted here; container: all of its parameters
    macs: int = 0  # multiply-accumulates (leaf: its own; container: the sum of its leaves)
    activations: int = 0  # values in the output
    activation_bytes: int = 0


@dataclass
class ModelSummary:
    """What ``summary`` returns: the rows and the totals; ``print`` it or call ``.table()``."""

    rows: list[LayerSummary]
    input_shape: tuple[int, ...]
    total_params: int  # every parameter of the model, shared ones once
    trainable_params: int
    param_bytes: int
    macs: int  # for the whole batch
    activations: int  # values in the outputs of all leaf-layer calls, for the whole batch
    activation_bytes: int
    input_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def flops(self) -> int:
        """Floating-point operations: 2 per multiply-accumulate."""
        return 2 * self.macs

    def __getitem__(self, name: str) -> LayerSummary:
        """The first call of the module called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no module called {name!r} ran in the forward pass")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json``): rows as dicts, the totals, and ``flops``."""
        return dict(asdict(self), flops=self.flops)

    def table(self, depth: int | None = None) -> str:
        """Aligned text: leaf layers (``depth=None``) or every module down to ``depth``; totals."""
        rows = [r for r in self.rows if (r.is_leaf if depth is None else r.depth <= depth)]
        indent = (lambda r: "  " * (r.depth - 1)) if depth is not None else (lambda r: "")
        columns = [
            Column("layer", "Layer (type)", align="<"),
            Column("output_shape", "Output shape", _shape),
            Column("params", "Params", "{:,}".format),
            Column("macs", "MACs", "{:,}".format),
            Column("activations", "Activations", "{:,}".format),
            Column("activation_bytes", "Act. memory", _bytes),
        ]
        cells = [dict(asdict(r), layer=f"{indent(r)}{r.name} ({r.type})") for r in rows]
        table = render_table(columns, cells, indent="", frame=True, rule="=")
        batch = self.input_shape[0]
        per = f"per batch of {batch}" if batch > 1 else "per image"
        macs_line = "MACs (multiply-accumulates of conv and linear layers)"
        totals = [
            f"Input shape: {self.input_shape}   input memory: {_bytes(self.input_bytes)}",
            f"Total params: {self.total_params:,}   trainable: {self.trainable_params:,}   "
            f"memory: {_bytes(self.param_bytes)}",
            f"{macs_line}, {per}: {self.macs:,} = {self.macs / 1e9:.2f} G",
            f"FLOPs = 2 x MACs = {self.flops / 1e9:.2f} G",
            f"Activations (outputs of the leaf layers, forward only), {per}: "
            f"{self.activations:,} values = {_bytes(self.activation_bytes)}; "
            "backward roughly doubles it",
            *self.notes,
        ]
        return "\n".join([table, *totals])

    def __str__(self) -> str:
        return self.table()


def _shape(shape: Any) -> str:
    return str(list(shape)) if isinstance(shape, tuple) else ", ".join(str(list(s)) for s in shape)


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------- MACs per layer type


def conv2d_macs(module: nn.Conv2d, output: Tensor) -> int:
    """Every output value is a dot product of (Cin / groups) * KH * KW weights with the input."""
    return output.numel() * math.prod(module.weight.shape[1:])  # N*Cout*OH*OW * (Cin/groups)*KH*KW


def linear_macs(module: nn.Linear, output: Tensor) -> int:
    """Every output value is a dot product of ``in_features`` weights with the input."""
    return output.numel() * module.in_features


#: Layer types whose MACs are counted; add an entry to count another (e.g. BatchNorm2d).
MAC_COUNTERS: dict[type, Callable[[Any, Tensor], int]] = {
    nn.Conv2d: conv2d_macs,
    nn.Linear: linear_macs,
}


# --------------------------------------------------------------------------- the summary


def summary(
    model: Any, input_size: Sequence[int], *, dtype: Any = np.float32, mode: str = "eval"
) -> ModelSummary:
    """Run ``model`` once on random input and tabulate every layer.

    Parameters
    ----------
    model : scratchnet.nn.Module
    input_size : (C, H, W) for one image, or (N, C, H, W)
        MACs and activations are for the whole batch (one image by default).
    dtype : NumPy dtype of the input (and of the activation bytes)
    mode : "eval" (default: BatchNorm uses running statistics, no dropout, no auxiliary heads) or
        "train". The model's own modes are restored afterwards.

    Example
    -------
    >>> from scratchnet.models import resnet18
    >>> s = summary(resnet18(), (3, 224, 224))
    >>> s.total_params, round(s.macs / 1e9, 2)
    (11689512, 1.82)
    """
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    shape = tuple(input_size) if len(input_size) == 4 else (1, *input_size)
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))

    modes = [(m, m.training) for m in model.modules()]
    try:
        model.train(mode == "train")
        with record_calls(model) as calls, no_grad():
            model(x)
    finally:
        for module, training in modes:
            module.training = training
    rows = _rows(calls)

    params = list(model.parameters())  # each shared parameter once
    leaves = [r for r in rows if r.is_leaf]
    notes = []
    unused = sum(p.numel() for p in params) - sum(r.params for r in leaves)
    if unused:
        notes.append(
            f"{unused:,} parameters were not used in this forward pass "
            "(e.g. auxiliary heads in eval mode)"
        )
    return ModelSummary(
        rows=rows,
        input_shape=shape,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.array.nbytes for p in params),
        macs=sum(r.macs for r in leaves),
        activations=sum(r.activations for r in leaves),
        activation_bytes=sum(r.activation_bytes for r in leaves),
        input_bytes=x.array.nbytes,
        notes=notes,
    )


def _rows(calls: list[ModuleCall]) -> list[LayerSummary]:
    """One row per recorded call but the model's own (its numbers are the totals).

    A leaf counts the parameters not counted in an earlier row (shared ones once), a container
    all of its own; a leaf's MACs are added to every container around it.
    """
    rows: dict[int, LayerSummary] = {}  # id(call) -> its row, in the order the calls started
    counted: set[int] = set()  # ids of parameters already counted in some row
    for call in calls:
        if call.parent is None:  # the model itself
            continue
        row = LayerSummary(call.name, type(call.module).__name__, call.depth, call.is_leaf)
        if call.is_leaf:
            new = [p for p in call.module.parameters() if id(p) not in counted]
            counted.update(id(p) for p in new)
            row.params = sum(p.numel() for p in new)
        else:
            row.params = sum(p.numel() for p in call.module.parameters())
        tensors = call.outputs
        row.output_shape = call.output_shape
        row.activations = sum(t.numel() for t in tensors)
        row.activation_bytes = sum(t.array.nbytes for t in tensors)
        counter = MAC_COUNTERS.get(type(call.module))
        if call.is_leaf and counter is not None and tensors:
            row.macs = counter(call.module, tensors[0])
            ancestor = call.parent
            while ancestor is not None and ancestor.parent is not None:  # containers add it up
                rows[id(ancestor)].macs += row.macs
                ancestor = ancestor.parent
        rows[id(call)] = row
    return list(rows.values())
