"""The functional interface, PyTorch's ``torch.nn.functional``:
``from scratchnet.nn import functional as F``.

Every op a network needs, as a plain function of tensors (layers hold the parameters; these hold
none). Most are re-exported from ``scratchnet.ops``, where each op's forward and backward stand
side by side; the few defined here only adapt PyTorch's signatures (``inplace=``).
"""

from __future__ import annotations

from scratchnet.ops.activation import dropout, leaky_relu, log_softmax, relu6, softmax
from scratchnet.ops.conv import conv2d, conv2d_naive
from scratchnet.ops.elementwise import relu as _relu
from scratchnet.ops.elementwise import sigmoid, tanh
from scratchnet.ops.linalg import linear
from scratchnet.ops.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from scratchnet.ops.norm import batch_norm
from scratchnet.ops.pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
)
from scratchnet.ops.shape import cat, flatten, pad
from scratchnet.tensor import Tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), as a new tensor; ``inplace=True`` overwrites ``input`` and returns it.

    In place it is ``input.relu_()``, as in PyTorch.
    """
    return input.relu_() if inplace else _relu(input)


__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "cat",
    "conv2d",
    "conv2d_naive",
    "cross_entropy",
    "dropout",
    "flatten",
    "global_avg_pool2d",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "relu6",
    "sigmoid",
    "softmax",
    "tanh",
]
