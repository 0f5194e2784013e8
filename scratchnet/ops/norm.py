"""Batch normalization (Ioffe & Szegedy, 2015): forward, the compact hand-derived backward, running statistics.

For every channel c, over the N*H*W values it takes in a batch (slide "DenseNet (1)": BN - ReLU - conv):

    mean_c = average of x,   var_c = average of (x - mean_c)^2   (biased: divides by n = N*H*W)
    x_hat  = (x - mean_c) / sqrt(var_c + eps)
    y      = gamma_c * x_hat + beta_c

In training the statistics come from the batch, and the running averages used at test time move
towards them. In eval mode the running averages are used instead, so y is a fixed affine map of x.

The per-channel loops (statistics, the two gradient sums, the affine maps) are the four small
functions at the bottom. ``scratchnet/kernels/numba_norm.py`` holds Numba siblings of the same
four, with the same signatures, and ``scratchnet/kernels/cupy_gpu.py`` CuPy ones for the GPU; the
backend picks them automatically (``SCRATCHNET_KERNELS=reference`` forces these NumPy versions).

Notation: N batch, C channels, M = H*W values per channel and sample (M = 1 for (N, C) inputs),
n = N*M values per channel in the batch.
"""

from __future__ import annotations

import sys
from types import ModuleType

from scratchnet.backend import Array, device_of, fast_kernels_for, get_xp
from scratchnet.function import Function, not_a_tensor
from scratchnet.tensor import Tensor


class BatchNormFunction(Function):
    def __init__(
        self,
        running_mean: Array | None,
        running_var: Array | None,
        training: bool,
        momentum: float,
        eps: float,
        has_weight: bool,
        has_bias: bool,
    ) -> None:
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x: Array, *affine: Array) -> Array:
        xp = get_xp(x)
        N, C = x.shape[:2]
        x3 = xp.ascontiguousarray(x).reshape(N, C, -1)  # (N, C, M)
        n = x3.shape[0] * x3.shape[2]
        kernels = _kernels(x3)
        gamma = affine[0] if self.has_weight else xp.ones(C, dtype=x.dtype)  # (C,)
        beta = affine[-1] if self.has_bias else xp.zeros(C, dtype=x.dtype)  # (C,)

        if self.training:
            mean, var = kernels.channel_mean_var(x3)  # (C,), (C,); var is biased (divides by n)
            if self.running_mean is not None:
                # The running update, as PyTorch: an exponential moving average whose variance is
                # the unbiased estimate var * n / (n - 1), while the batch is normalised with the biased one.
                self.running_mean[...] = (
                    1 - self.momentum
                ) * self.running_mean + self.momentum * mean
                self.running_var[...] = (
                    1 - self.momentum
                ) * self.running_var + self.momentum * var * n / (n - 1)
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)

        inv_std = 1 / xp.sqrt(var + self.eps)  # (C,)
        # y = gamma (x - mean) inv_std + beta, written as one per-channel affine map x * scale + shift.
        scale = gamma * inv_std
        shift = beta - mean * scale
        y = kernels.channel_affine(x3, scale, shift)  # (N, C, M)

        self.x3, self.mean, self.inv_std, self.gamma, self.scale = x3, mean, inv_std, gamma, scale
        return y.reshape(x.shape)

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        xp = get_xp(gy)
        x3, mean, inv_std, gamma = self.x3, self.mean, self.inv_std, self.gamma
        g3 = xp.ascontiguousarray(gy).reshape(x3.shape)  # (N, C, M)
        n = x3.shape[0] * x3.shape[2]
        kernels = _kernels(x3)

        sum_g, sum_g_centered = kernels.channel_grad_sums(g3, x3, mean)  # sum g, sum g (x - mean)
        grad_beta = sum_g  # dL/dbeta_c = sum of g over the channel
        grad_gamma = sum_g_centered * inv_std  # dL/dgamma_c = sum of g * x_hat

        if self.training:
            # The compact formula: mean and var depend on x too, which adds the last two terms,
            #   dL/dx = gamma inv_std / n * (n g - sum(g) - x_hat * sum(g x_hat)),
            # rewritten per channel as a g + b (x - mean) + c' = a g + b x + c, so one pass writes it.
            a = gamma * inv_std
            b = -a * inv_std * grad_gamma / n
            c = -a * grad_beta / n - b * mean
            gx = kernels.channel_affine2(g3, x3, a, b, c)  # (N, C, M)
        else:
            # With running statistics, y = x * scale + shift exactly, so dL/dx = g * scale.
            gx = kernels.channel_affine(g3, self.scale, xp.zeros_like(self.scale))  # (N, C, M)

        grads: list[Array | None] = [gx.reshape(gy.shape)]
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
        running = (1 - momentum) * running + momentum * batch statistic.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    Tensor, the shape of ``input``.

    Notes
    -----
    Training, per channel with n = N*H*W values: x_hat = (x - mean) / sqrt(var + eps) with the
    biased variance, y = gamma x_hat + beta, and the gradients

        dL/dbeta = sum(g),   dL/dgamma = sum(g x_hat),
        dL/dx = gamma / (n sqrt(var + eps)) * (n g - sum(g) - x_hat sum(g x_hat)).

    The running variance is updated with the unbiased variance var * n / (n - 1), as in PyTorch.
    """
    if not isinstance(input, Tensor):  # read below before the Function would check it
        raise TypeError(f"batch_norm: {not_a_tensor(input)}")
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input of shape (N, C) or (N, C, H, W), got shape {input.shape}"
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
                f"batch_norm: {name} must have shape ({C},) for input of shape {input.shape}, got {t.shape}"
            )
    if training and input.array.size // C <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of shape {input.shape}"
        )
    if not training and (running_mean is None or running_var is None):
        raise ValueError(
            "batch_norm: running_mean and running_var must be given in eval mode (training=False)"
        )
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and device_of(t.array) != device_of(
            input.array
        ):  # not inputs of the Function: here
            raise RuntimeError(
                f"batch_norm: input is on {device_of(input.array)} but {name} is on {device_of(t.array)}; "
                "move the module with .to(device) (it moves the running statistics too)"
            )
    affine = [t for t in (weight, bias) if t is not None]
    function = BatchNormFunction(
        None if running_mean is None else running_mean.array,
        None if running_var is None else running_var.array,
        training,
        momentum,
        eps,
        weight is not None,
        bias is not None,
    )
    return function(input, *affine)


# --------------------------------------------------------------------------- per-channel loops


def channel_mean_var(x3: Array) -> tuple[Array, Array]:
    """Mean and biased variance of each channel (two passes: the mean first, then the squared deviations).

    x3 : (N, C, M) -> mean (C,), var (C,).
    """
    xp = get_xp(x3)
    n = x3.shape[0] * x3.shape[2]
    # einsum sums over N and M for each channel; it is several times faster than x3.sum(axis=(0, 2)).
    mean = xp.einsum("ncm->c", x3) / n
    centered = x3 - mean[:, None]  # (N, C, M)
    var = xp.einsum("ncm,ncm->c", centered, centered) / n
    return mean, var


def channel_grad_sums(g3: Array, x3: Array, mean: Array) -> tuple[Array, Array]:
    """Per channel: sum of g, and sum of g * (x - mean).

    g3, x3 : (N, C, M), mean : (C,) -> (C,), (C,).
    """
    xp = get_xp(g3)
    sum_g = xp.einsum("ncm->c", g3)
    sum_g_centered = xp.einsum("ncm,ncm->c", g3, x3 - mean[:, None])
    return sum_g, sum_g_centered


def channel_affine(x3: Array, scale: Array, shift: Array) -> Array:
    """X * scale + shift with one scale and shift per channel: (N, C, M), (C,), (C,) -> (N, C, M)."""
    y = x3 * scale[:, None]
    y += shift[:, None]
    return y


def channel_affine2(g3: Array, x3: Array, a: Array, b: Array, c: Array) -> Array:
    """A g + b x + c with per-channel a, b, c: (N, C, M) twice, (C,) three times -> (N, C, M)."""
    out = g3 * a[:, None]
    out += x3 * b[:, None]
    out += c[:, None]
    return out


def _kernels(x3: Array) -> ModuleType:
    """The module whose four per-channel functions run: the backend's fast siblings or this module's.

    Fast kernels are used for images (M > 1). For (N, C) inputs (M = 1) NumPy's reductions down the
    rows are already as fast, so the reference runs.
    """
    fast = fast_kernels_for(x3, family="norm") if x3.shape[2] > 1 else None
    return sys.modules[__name__] if fast is None else fast
