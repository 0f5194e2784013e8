"""Lab 3: max pooling and batch normalisation, forward and backward.

Max pooling halves VGG's feature maps after every stage (the POOL2 rows of slide "VGGNet (3)") and
sits between GoogLeNet's Inception stages as a 3x3 window moved by 2 (overlapping windows). Batch
normalisation is the first step of every DenseNet layer, BN - ReLU - conv (slide "DenseNet (1)"),
and follows every convolution of a ResNet: it is what lets these deep networks train at all.

Both have a backward with a catch. Max pooling sends each window's gradient to the one element
that won the window, and with overlapping windows one element can win several. Batch
normalisation's mean and variance depend on every input, so dL/dx has two more terms than the
naive ``gy * gamma / std``.

Check your work:  python -m scratchnet.labs check lessons/lab03_pool_bn
"""

from __future__ import annotations

import numpy as np

from scratchnet import Function, Tensor, nn
from scratchnet.creation import ones, zeros

# =====================================================================================
# TASK 3.1  Max pooling, forward: the maximum of every window, and where it was
# TASK 3.2  Max pooling, backward: the gradient goes to the winner
# =====================================================================================


class MaxPool2dFunction(Function):
    """y[n, c, oh, ow] = max of x[n, c, oh*S : oh*S + K, ow*S : ow*S + K]  (no padding).

    x (N, C, H, W) -> y (N, C, OH, OW) with OH = (H - K) // S + 1 (the same for OW).
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        self.K, self.S = kernel_size, stride

    def forward(self, x: np.ndarray) -> np.ndarray:
        # TASK 3.1
        # HINT: stack the K*K strided slices x[:, :, i : i + S*OH : S, j : j + S*OW : S] (each
        #       (N, C, OH, OW), element (i, j) of every window) into windows (N, C, K*K, OH, OW).
        # HINT: windows.max(axis=2) is y; save windows.argmax(axis=2), the winner's k = i*K + j
        #       (the first one wins a tie), and x's shape for backward.
        raise NotImplementedError("TASK 3.1 (Max pooling, forward): complete MaxPool2dFunction.forward() in pool_bn.py")

    def backward(self, gy: np.ndarray) -> np.ndarray:
        # TASK 3.2
        # HINT: start from gx = zeros(x's shape). For every window offset (i, j), the outputs whose
        #       winner is k = i*K + j send gy there: add gy * (winner == k) onto the same strided
        #       slice of gx that forward read element (i, j) from.
        # HINT: add (+=), never assign: with K > S (GoogLeNet's 3x3 windows moved by 2) one element
        #       can win two windows and must receive both gradients.
        raise NotImplementedError("TASK 3.2 (Max pooling, backward): complete MaxPool2dFunction.backward() in pool_bn.py")


def max_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Your max pooling on Tensors (stride defaults to the kernel size, windows side by side)."""
    return MaxPool2dFunction(kernel_size, kernel_size if stride is None else stride)(x)


# =====================================================================================
# TASK 3.3  Batch normalisation, forward: batch statistics in training, running ones in eval
# TASK 3.4  Batch normalisation, backward
# =====================================================================================


class BatchNormFunction(Function):
    """Per channel c, over the n = N*H*W values it takes in the batch:

        mean_c = mean of x,  var_c = mean of (x - mean_c)^2  (biased: divided by n)
        x_hat  = (x - mean_c) / sqrt(var_c + eps),   y = gamma_c * x_hat + beta_c

    In training the batch's statistics are used, and the running ones move towards them:
    running = (1 - momentum) * running + momentum * batch, with the UNBIASED variance
    var * n / (n - 1) for running_var (as PyTorch). In eval mode the running statistics replace the
    batch's.

    x (N, C, H, W), gamma (C,), beta (C,) -> y (N, C, H, W). ``running_mean`` and ``running_var``
    are (C,) arrays, updated in place.
    """

    def __init__(
        self,
        running_mean: np.ndarray,
        running_var: np.ndarray,
        training: bool,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        # TASK 3.3
        # HINT: x.mean(axis=(0, 2, 3)) is the (C,) per-channel mean; reshape (C,) arrays to
        #       (1, C, 1, 1) to broadcast them against x.
        # HINT: update the running statistics IN PLACE (self.running_mean[...] = ...): the layer
        #       owns these arrays and must see the change.
        # HINT: save x_hat, the inverse standard deviation and gamma for backward.
        raise NotImplementedError("TASK 3.3 (Batch normalisation, forward): complete BatchNormFunction.forward() in pool_bn.py")

    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # TASK 3.4
        # HINT: dL/dbeta = sum of gy per channel; dL/dgamma = sum of gy * x_hat per channel.
        # HINT: in training, mean and var depend on x too: follow the three paths (x_hat, var, mean)
        #       and simplify; the result needs only the per-channel sums of gy and of gy * x_hat. In
        #       eval mode the statistics are constants, so only the first path is left.
        raise NotImplementedError("TASK 3.4 (Batch normalisation, backward): complete BatchNormFunction.backward() in pool_bn.py")


# =====================================================================================
# TASK 3.5  The layer: parameters, buffers and the training flag
# =====================================================================================


class MyBatchNorm2d(nn.Module):
    """Batch normalisation as a layer, PyTorch's state under PyTorch's names.

    Parameters ``weight`` (gamma, ones) and ``bias`` (beta, zeros); buffers ``running_mean`` (zeros)
    and ``running_var`` (ones), all of shape (num_features,). ``self.training``, switched by
    ``train()`` / ``eval()``, picks the statistics.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        # HINT: nn.Parameter(ones(C)) is learned; self.register_buffer("running_mean", zeros(C)) is
        #       state that state_dict() saves but the optimizer never sees.
        raise NotImplementedError("TASK 3.5 (The layer): complete MyBatchNorm2d.__init__() in pool_bn.py")

    def forward(self, x: Tensor) -> Tensor:
        # HINT: the Function takes the buffers' arrays
        # (self.running_mean.array) so it can update them.
        raise NotImplementedError("TASK 3.5 (The layer): complete MyBatchNorm2d.forward() in pool_bn.py")
