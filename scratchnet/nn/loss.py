"""Loss layers: CrossEntropyLoss, NLLLoss, MSELoss,
BCEWithLogitsLoss (thin Modules around ``scratchnet.ops.loss``).

Called as ``criterion(output, target)``. Options after the first are keyword-only, so PyTorch's
legacy positional arguments (``size_average``, ``reduce``) cannot be passed by mistake.
"""

from __future__ import annotations

from scratchnet.nn.module import Module
from scratchnet.ops.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from scratchnet.tensor import Tensor


class CrossEntropyLoss(Module):
    """Softmax + negative log-likelihood of the integer class targets; see
    ``scratchnet.ops.loss.cross_entropy``.

    Shapes: logits (N, C), targets (N,) of integers in
    [0, C) -> a scalar (or (N,) with reduction="none").
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing = (
            ignore_index,
            reduction,
            label_smoothing,
        )

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (N, C) for integer targets (N,)."""

    def __init__(
        self, weight: Tensor | None = None, *, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class MSELoss(Module):
    """Mean squared error; input and target of the same shape."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits (sigmoid included, computed stably);
    input and target of the same shape.
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )
