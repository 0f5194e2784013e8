"""BatchNorm1d and BatchNorm2d: learnable gamma and beta, running statistics as buffers.

The maths (and the hand-derived backward) is in ``scratchnet.ops.norm``. This module keeps the
state PyTorch keeps, under the same names, so checkpoints move between the two:
``weight`` (gamma) and ``bias`` (beta) are parameters; ``running_mean``, ``running_var`` and
``num_batches_tracked`` are buffers. ``train()`` / ``eval()`` decide which statistics are used, and
``forward`` moves the running statistics, in one visible line each.
"""

from __future__ import annotations

import numpy as np

from scratchnet.creation import ones, tensor, zeros
from scratchnet.function import no_grad
from scratchnet.nn.module import Module, Parameter
from scratchnet.ops.norm import batch_norm_with_stats, update_running_stats
from scratchnet.tensor import Tensor


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept."""

    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features))  # gamma
            self.bias = Parameter(zeros(num_features))  # beta
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features))
            self.register_buffer("running_var", ones(num_features))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            with no_grad():
                self.weight.fill_(1)
                self.bias.zero_()

    def forward(self, input: Tensor) -> Tensor:
        name = f"{type(self).__name__}({self.num_features})"
        if input.ndim not in self.ranks:
            raise ValueError(f"{name} expects a {self.layout} input, got shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{name} expects {self.num_features} channels, got {input.shape[1]} for input of "
                f"shape {input.shape}"
            )
        # Batch statistics in training, and also in eval when no running statistics are kept.
        use_batch_stats = self.training or not self.track_running_stats
        y, batch_mean, batch_var = batch_norm_with_stats(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_batch_stats,
            self.eps,
        )
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array[...] += 1  # an int64 0-d array
            momentum = self.momentum
            if momentum is None:  # a cumulative average: batch k weighs 1/k
                momentum = 1.0 / int(self.num_batches_tracked.array)
            # running = (1 - momentum) running + momentum batch statistic (var: the unbiased one)
            update_running_stats(
                self.running_mean, self.running_var, batch_mean, batch_var, momentum
            )
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per feature C (``nn.BatchNorm1d``).

    Parameters
    ----------
    num_features : int, C
    eps : float, added to the variance
    momentum : float or None
        running = (1 - momentum) running + momentum batch_stat; None: a cumulative average.
    affine : bool, learn gamma (``weight``) and beta (``bias``)
    track_running_stats : bool, keep running statistics (else batch statistics are used in eval too)
    """

    ranks = (2, 3)
    layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel (PyTorch's ``nn.BatchNorm2d``).

    The statistics of channel c are taken over all N*H*W of its values. Parameters as
    ``BatchNorm1d``; 4 * C numbers of state (gamma, beta, running mean and variance), 2 * C learned.
    """

    ranks = (4,)
    layout = "4-D (N, C, H, W)"
