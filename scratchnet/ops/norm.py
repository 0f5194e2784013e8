"""Batch normalization (Ioffe & Szegedy, 2015, Algorithm 1): forward and backward, as in the paper.

For every channel c, over the n = N*H*W values it takes in a batch (slide "DenseNet (1)": BN -
ReLU - conv)::

    mean_c = (1/n) sum x,   var_c = (1/n) sum (x - mean_c)^2   (biased: divides by n)
    x_hat  = (x - mean_c) / sqrt(var_c + eps)
    y      = gamma_c * x_hat + beta_c

In training the statistics come from the batch (and the running averages used at test time move
towards them: one line in ``scratchnet/nn/norm.py``, beside ``num_batches_tracked``). In eval mode
the running averages are used instead, so y is a fixed affine map of x.

The backward, with g = dL/dy and every sum over the n values of the channel (the paper's)::

    dL/dbeta  = sum g                 dL/dgamma = sum g * x_hat
    dL/dx_hat = g * gamma
    dL/dvar   = sum dL/dx_hat * (x - mean) * (-1/2) (var + eps)^(-3/2)
    dL/dmean  = -sum dL/dx_hat / std  (+ dL/dvar * (-2/n) sum (x - mean), which is 0)
    dL/dx     = dL/dx_hat / std + dL/dvar * 2 (x - mean) / n + dL/dmean / n

With std = sqrt(var + eps) and x - mean = x_hat * std, the three terms of dL/dx collect into::

    dL/dx = 1 / (n std) * (n dL/dx_hat - sum dL/dx_hat - x_hat * sum(dL/dx_hat * x_hat))

which is what ``backward`` computes. In eval mode mean and var are constants, and
dL/dx = dL/dx_hat / std.

The fast sibling (``scratchnet.kernels.fast_functions.FastBatchNormFunction``) computes the same in
one or two passes over memory, never forming x_hat; ``SCRATCHNET_KERNELS=reference`` runs this file.
"""

from __future__ import annotations

from scratchnet.backend import Array, device_of, fast_function, get_xp
from scratchnet.function import Function, not_a_tensor
from scratchnet.ops.linalg import check_same_dtype
from scratchnet.ops.reduce import check_floating
from scratchnet.tensor import Tensor


class BatchNormFunction(Function):
    """y = gamma * x_hat + beta per channel, from the batch's statistics or the running ones.

    After a training forward, ``batch_mean`` and ``batch_var`` hold the batch's statistics as the
    running averages take them: the mean, and the unbiased variance var * n / (n - 1) (PyTorch's
    rule, while the batch itself is normalised with the biased var).
    """

    def __init__(
        self,
        training: bool,
        eps: float,
        running_mean: Array | None = None,
        running_var: Array | None = None,
        has_weight: bool = False,
        has_bias: bool = False,
    ) -> None:
        self.training, self.eps = training, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x: Array, *affine: Array) -> Array:
        xp = get_xp(x)
        C = x.shape[1]
        self.axes = (0, *range(2, x.ndim))  # every axis but the channels'
        self.channel = (1, C) + (1,) * (x.ndim - 2)  # shape of a (C,) vector, broadcast against x
        self.n = x.size // C  # values per channel
        self.gamma = affine[0] if self.has_weight else xp.ones(C, dtype=x.dtype)  # (C,)
        beta = affine[-1] if self.has_bias else xp.zeros(C, dtype=x.dtype)  # (C,)
        if self.training:
            mean = x.mean(axis=self.axes)  # (C,)
            var = ((x - mean.reshape(self.channel)) ** 2).mean(axis=self.axes)  # (C,), biased
            self.batch_mean, self.batch_var = mean, var * self.n / (self.n - 1)
        else:
            mean = self.running_mean.astype(x.dtype)
            var = self.running_var.astype(x.dtype)
        self.std = xp.sqrt(var + self.eps)  # (C,)
        self.x_hat = (x - mean.reshape(self.channel)) / self.std.reshape(self.channel)  # x's shape
        return self.gamma.reshape(self.channel) * self.x_hat + beta.reshape(self.channel)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        x_hat, n, axes, channel = self.x_hat, self.n, self.axes, self.channel
        grad_gamma = (gy * x_hat).sum(axis=axes)  # (C,)
        grad_beta = gy.sum(axis=axes)  # (C,)
        g_hat = gy * self.gamma.reshape(channel)  # dL/dx_hat, x's shape
        if self.training:  # the batch's mean and var depend on x too: the last two terms
            sum_g_hat = g_hat.sum(axis=axes, keepdims=True)  # (1, C, 1, 1)
            sum_g_hat_x_hat = (g_hat * x_hat).sum(axis=axes, keepdims=True)  # (1, C, 1, 1)
            gx = (n * g_hat - sum_g_hat - x_hat * sum_g_hat_x_hat) / (n * self.std.reshape(channel))
        else:
            gx = g_hat / self.std.reshape(channel)
        grads: list[Array | None] = [gx]
        if self.has_weight:
            grads.append(grad_gamma)
        if self.has_bias:
            grads.append(grad_beta)
        return tuple(grads)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over every channel (PyTorch's ``F.batch_norm``).

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, H, W) (any (N, C, ...) works)
    running_mean, running_var : Tensor, shape (C,), or None
        In training they are updated in place (when given); in eval mode they normalise.
    weight, bias : Tensor, shape (C,), optional
        gamma and beta; None means 1 and 0.
    training : bool
        Use the batch's statistics (and update the running ones) instead of the running ones.
    momentum : float
        running = (1 - momentum) * running + momentum * batch statistic (training only).
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    Tensor, the shape of ``input``.

    Notes
    -----
    Training, per channel with n = N*H*W values: x_hat = (x - mean) / sqrt(var + eps) with the
    biased variance, y = gamma x_hat + beta, and the gradients (the module docstring derives them)

        dL/dbeta = sum(g),   dL/dgamma = sum(g x_hat),
        dL/dx = gamma / (n sqrt(var + eps)) * (n g - sum(g) - x_hat sum(g x_hat)).

    The running variance moves towards the unbiased variance var * n / (n - 1), as in PyTorch.
    """
    y, batch_mean, batch_var = batch_norm_with_stats(
        input, running_mean, running_var, weight, bias, training, eps
    )
    if training and running_mean is not None:
        # F.batch_norm moves the running statistics it is given, as nn.BatchNorm2d does.
        update_running_stats(running_mean, running_var, batch_mean, batch_var, momentum)
    return y


def update_running_stats(
    running_mean: Tensor, running_var: Tensor, batch_mean: Array, batch_var: Array, momentum: float
) -> None:
    """Move the running statistics: running = (1 - momentum) running + momentum batch statistic.

    In place, straight into the arrays (no graph, no version change, as in PyTorch); the variance
    moves towards the unbiased batch variance.
    """
    running_mean.array[...] = (1 - momentum) * running_mean.array + momentum * batch_mean
    running_var.array[...] = (1 - momentum) * running_var.array + momentum * batch_var


def batch_norm_with_stats(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    eps: float,
) -> tuple[Tensor, Array | None, Array | None]:
    """:func:`batch_norm` without the running update: y, and in training the batch's statistics.

    Returns y, and the batch's mean and unbiased variance (arrays of shape (C,)) in training,
    None and None in eval mode. The running statistics are only read, in eval mode.
    """
    if not isinstance(input, Tensor):  # read below before the Function would check it
        raise TypeError(f"batch_norm: {not_a_tensor(input)}")
    if input.ndim < 2:
        raise ValueError(
            "batch_norm: expected an input of shape (N, C) or (N, C, H, W), got shape "
            f"{input.shape}"
        )
    C = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.shape != (C,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({C},) for input of shape {input.shape}, "
                f"got {t.shape}"
            )
    check_floating("batch_norm", input)  # integers would truncate the normalised values
    # One dtype, as for conv2d and linear: NumPy would compute a float32 layer's statistics of a
    # float64 input in float64 without a word, where PyTorch refuses.
    check_same_dtype(
        "batch_norm",
        {
            "input": input,
            "running_mean": running_mean,
            "running_var": running_var,
            "weight": weight,
            "bias": bias,
        },
    )
    if training and input.array.size // C <= 1:
        raise ValueError(
            "batch_norm: expected more than 1 value per channel when training, got input of shape "
            f"{input.shape}"
        )
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            "batch_norm: running_mean and running_var must both be given or both be None, got "
            f"running_mean={_described(running_mean)} and running_var={_described(running_var)}"
        )
    if not training and (running_mean is None or running_var is None):
        raise ValueError(
            "batch_norm: running_mean and running_var must be given in eval mode (training=False)"
        )
    device = device_of(input.array)
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        # Not inputs of the Function, so checked here.
        if t is not None and device_of(t.array) != device:
            raise RuntimeError(
                f"batch_norm: input is on {device} but {name} is on {device_of(t.array)}; "
                "move the module with .to(device) (it moves the running statistics too)"
            )
    affine = [t for t in (weight, bias) if t is not None]
    # The one dispatch point: the fast sibling of BatchNormFunction for the input's device, or it.
    function_class = fast_function(input.array, BatchNormFunction, family="norm")
    function = function_class(
        training,
        eps,
        None if training else running_mean.array,
        None if training else running_var.array,
        weight is not None,
        bias is not None,
    )
    y = function(input, *affine)
    if not training:
        return y, None, None
    return y, function.batch_mean, function.batch_var


def _described(t: Tensor | None) -> str:
    return "None" if t is None else f"a Tensor of shape {t.shape}"
