"""Lazy layers: ``LazyLinear``, ``LazyConv2d``,
``LazyBatchNorm2d`` infer their input size at the first call.

d2l.ai's chapters build every network with them (``nn.LazyConv2d(96, kernel_size=11)``: no input
channels), run one dummy batch through it, then create the optimizer. scratchnet's own models
never use them (style rule 9: shapes are known when a layer is built, so a lesson can count
parameters before any data flows); they exist for code that does.

How it works, as in PyTorch: the parameters start as ``UninitializedParameter`` (no shape, no
values). The first ``forward`` reads the missing size from the input (``in_features`` is the last
dimension, ``in_channels``/``num_features`` dimension 1), gives each parameter its shape and
values IN PLACE (the same objects, so an optimizer made before that call still holds them and
updates them, as in PyTorch), runs the eager layer's ``reset_parameters``, and turns the module
into the eager class (``LazyLinear`` becomes ``Linear``). From then on it is that layer:
``state_dict``, ``parameters()``, ``repr``.

Before the first call the module has no shapes: ``state_dict()`` holds empty tensors. As in
PyTorch, ``load_state_dict`` can fill them: each uninitialized tensor takes the shape of its
checkpoint value; then the layer reads its size from the loaded weight and becomes the eager
layer at once (PyTorch waits for the first call to change the class).
"""

from __future__ import annotations

from typing import Any

from scratchnet.backend import get_xp
from scratchnet.nn.conv import Conv2d, IntPair
from scratchnet.nn.linear import Linear
from scratchnet.nn.module import Parameter
from scratchnet.nn.norm import BatchNorm2d
from scratchnet.tensor import Tensor


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet; ``materialize(shape)`` gives it one, in place."""

    __slots__ = ()

    def materialize(self, shape: tuple[int, ...]) -> None:
        """Become a ``Parameter`` of ``shape``
        (zeros; the layer's ``reset_parameters`` fills it).
        """
        self.array = get_xp(self.array).zeros(shape, dtype=self.dtype)  # keeps the dtype and device
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer (running statistics) whose shape is not known yet; ``materialize`` as above."""

    __slots__ = ()

    def materialize(self, shape: tuple[int, ...]) -> None:
        self.array = get_xp(self.array).zeros(shape, dtype=self.dtype)
        self.__class__ = Tensor

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"


def _uninitialized(tensor: Tensor | None, kind: type[Tensor]) -> Tensor | None:
    """An uninitialized stand-in for ``tensor`` (same dtype and device), or None for None."""
    if tensor is None:
        return None
    empty = get_xp(tensor.array).empty(0, dtype=tensor.dtype)
    return kind(empty) if kind is UninitializedParameter else kind(empty, requires_grad=False)


def has_uninitialized_params(module: Any) -> bool:
    return any(
        isinstance(t, UninitializedParameter | UninitializedBuffer) for t in module._all_tensors()
    )


class LazyLoadMixin:
    """``finish_lazy_load``: after ``load_state_dict``
    shaped every tensor, become the eager layer.
    """

    size_attribute = ""  # in_features / in_channels / num_features
    size_of_weight = 1  # which dimension of the loaded weight (or running_mean) gives that size

    def finish_lazy_load(self) -> None:
        if has_uninitialized_params(self):  # nothing loaded (strict=False), or only part of it
            return
        source = self.weight if self.weight is not None else self.running_mean
        if source is None:  # LazyBatchNorm2d(affine=False, track_running_stats=False): no tensors
            return
        groups = getattr(self, "groups", 1)  # a grouped conv's weight holds in_channels / groups
        setattr(self, self.size_attribute, source.shape[self.size_of_weight] * groups)
        self.__class__ = self.cls_to_become  # the values are the loaded ones: no reset_parameters


class LazyLinear(LazyLoadMixin, Linear):
    """``Linear`` whose ``in_features`` is the last
    dimension of the first input (``nn.LazyLinear``).

    Shapes: (..., in_features) -> (..., out_features); becomes
    ``Linear(in_features, out_features)``.
    """

    cls_to_become = Linear
    size_attribute = "in_features"

    def __init__(self, out_features: int, bias: bool = True) -> None:
        # no inputs yet: reset_parameters below does nothing
        super().__init__(0, out_features, bias)
        self.weight = _uninitialized(self.weight, UninitializedParameter)
        if bias:
            self.bias = _uninitialized(self.bias, UninitializedParameter)

    def reset_parameters(self) -> None:
        if not has_uninitialized_params(self) and self.in_features != 0:
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0:
            raise ValueError(
                f"LazyLinear({self.out_features}) expects inputs "
                "of shape (..., in_features), got a 0-d tensor"
            )
        self.in_features = input.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        _become(self)
        return self.forward(input)


class LazyConv2d(LazyLoadMixin, Conv2d):
    """``Conv2d`` whose ``in_channels`` is dimension 1 of the first input (``nn.LazyConv2d``).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW); becomes ``Conv2d``.
    """

    cls_to_become = Conv2d
    size_attribute = "in_channels"

    def __init__(
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        # Built as a Conv2d of `groups` input channels (the smallest valid), then emptied: the
        # checks of out_channels, groups, kernel and padding are Conv2d's own.
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.in_channels = 0
        self.weight = _uninitialized(self.weight, UninitializedParameter)
        if bias:
            self.bias = _uninitialized(self.bias, UninitializedParameter)

    def reset_parameters(self) -> None:
        if not has_uninitialized_params(self) and self.in_channels != 0:
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(
                f"LazyConv2d({self.out_channels}) expects a 4-D "
                f"input (N, C, H, W), got shape {input.shape}"
            )
        in_channels = input.shape[1]
        if in_channels % self.groups:
            raise ValueError(
                f"LazyConv2d({self.out_channels}, groups={self.groups}): groups must divide the "
                f"input's {in_channels} channels (input of shape {input.shape})"
            )
        self.in_channels = in_channels
        KH, KW = self.kernel_size
        self.weight.materialize((self.out_channels, in_channels // self.groups, KH, KW))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        _become(self)
        return self.forward(input)


class LazyBatchNorm2d(LazyLoadMixin, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` is dimension
    1 of the first input (``nn.LazyBatchNorm2d``).
    """

    cls_to_become = BatchNorm2d
    size_attribute, size_of_weight = "num_features", 0

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__(0, eps, momentum, affine, track_running_stats)
        if affine:
            self.weight = _uninitialized(self.weight, UninitializedParameter)
            self.bias = _uninitialized(self.bias, UninitializedParameter)
        if track_running_stats:
            self.running_mean = _uninitialized(self.running_mean, UninitializedBuffer)
            self.running_var = _uninitialized(self.running_var, UninitializedBuffer)

    def reset_parameters(self) -> None:
        if not has_uninitialized_params(self) and self.num_features != 0:
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(
                f"LazyBatchNorm2d expects a 4-D input (N, C, H, W), got shape {input.shape}"
            )
        self.num_features = input.shape[1]
        for tensor in (self.weight, self.bias, self.running_mean, self.running_var):
            if tensor is not None:
                tensor.materialize((self.num_features,))
        _become(self)
        return self.forward(input)


def _become(module: Any) -> None:
    """Fill the now-shaped parameters as the eager layer does, and turn into the eager class."""
    module.__class__ = module.cls_to_become
    # the eager layer's initialisation (BatchNorm: ones, zeros, running stats)
    module.reset_parameters()


__all__ = [
    "LazyBatchNorm2d",
    "LazyConv2d",
    "LazyLinear",
    "UninitializedBuffer",
    "UninitializedParameter",
]
