"""Checks shared by tests/test_gpu.py (on a GPU) and tests/test_cupy_gpu_emulated.py (the GPU code
path on the CPU, through tests/fake_cupy.py): one body per check, run on every backend.

* kernel parity: every fast kernel against the NumPy reference it mirrors; each check takes the
  kernel module, ``put`` (a NumPy array to the kernels' device) and ``get`` (back);
* the op catalog: forward and backward on a device against the CPU reference path, and gradcheck;
* a training step of a small ResNet, ``Module.to``, the optimizers, the DataLoader and dropout on
  a device.
"""

from __future__ import annotations

import inspect

import numpy as np
from helpers import assert_same, on_reference_kernels, random_array

import scratchnet as sn
from scratchnet import backend, nn, optim
from scratchnet.data import DataLoader, TensorDataset
from scratchnet.models.resnet_cifar import resnet20
from scratchnet.nn import functional as F
from scratchnet.ops import im2col as reference_im2col
from scratchnet.ops import pool as reference_pool

WINDOW_KERNELS = [
    (reference_im2col, "im2col"),
    (reference_im2col, "col2im"),
    (reference_pool, "max_pool2d_forward"),
    (reference_pool, "max_pool2d_backward"),
    (reference_pool, "avg_pool2d_forward"),
    (reference_pool, "avg_pool2d_backward"),
]
# What a fast array kernel may add to its reference's parameters: a buffer to write into, and
# leave to overwrite its scratch input.
BUFFER_PARAMETERS = ["out", "overwrite_col"]


class NumPyChannelKernels:
    """What batch norm's four per-channel kernels compute, in plain NumPy.

    The fast BatchNorm's building blocks have no reference of their own: ops/norm.py forms x_hat.
    """

    @staticmethod
    def channel_mean_var(x3):  # (N, C, M) -> mean (C,), biased var (C,)
        mean = x3.mean(axis=(0, 2))
        return mean, ((x3 - mean[:, None]) ** 2).mean(axis=(0, 2))

    @staticmethod
    def channel_grad_sums(g3, x3, mean, relu_out=None):  # sum g, sum g (x - mean), per channel
        g3 = g3 if relu_out is None else np.where(relu_out <= 0, 0, g3)  # ReLU's mask
        return g3.sum(axis=(0, 2)), (g3 * (x3 - mean[:, None])).sum(axis=(0, 2))

    @staticmethod
    def channel_affine(x3, scale, shift):  # x * scale + shift per channel
        return x3 * scale[:, None] + shift[:, None]

    @staticmethod
    def channel_affine2(g3, x3, a, b, c, relu_out=None):  # a g + b x + c per channel
        g3 = g3 if relu_out is None else np.where(relu_out <= 0, 0, g3)
        return g3 * a[:, None] + x3 * b[:, None] + c[:, None]


NORM_KERNELS = ["channel_mean_var", "channel_grad_sums", "channel_affine", "channel_affine2"]

# (N, C, H, W), geometry: every window is valid for pooling too (padding <= kernel // 2, no window
# of padding only). Covers stride, padding, dilation, non-square kernels and ceil mode.
WINDOWS = [
    (
        (2, 3, 7, 6),
        {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1, "ceil_mode": False},
    ),
    ((2, 2, 9, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True}),
    (
        (1, 3, 11, 10),
        {
            "kernel_size": (2, 3),
            "stride": (2, 1),
            "padding": (1, 0),
            "dilation": (2, 1),
            "ceil_mode": 0,
        },
    ),
    (
        (3, 2, 8, 8),
        {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1, "ceil_mode": False},
    ),
    (
        (2, 1, 5, 7),
        {
            "kernel_size": (3, 1),
            "stride": (1, 3),
            "padding": (1, 0),
            "dilation": 1,
            "ceil_mode": True,
        },
    ),
    (
        (1, 4, 13, 13),
        {"kernel_size": 7, "stride": 2, "padding": 3, "dilation": 1, "ceil_mode": False},
    ),
    (
        (2, 2, 10, 9),
        {"kernel_size": 3, "stride": 3, "padding": 1, "dilation": 2, "ceil_mode": True},
    ),
]
DTYPES = [np.float32, np.float64]


def check_signatures(kernels) -> None:
    """The reference's parameters (then buffers only), and the docstring names the reference."""
    for module, name in WINDOW_KERNELS:
        ours = list(inspect.signature(getattr(kernels, name)).parameters)
        theirs = list(inspect.signature(getattr(module, name)).parameters)
        assert ours[: len(theirs)] == theirs, name
        assert all(extra in BUFFER_PARAMETERS for extra in ours[len(theirs) :]), name
        doc = getattr(kernels, name).__doc__
        assert f"scratchnet.ops.{module.__name__.rsplit('.', 1)[1]}.{name}" in doc, name
    for name in NORM_KERNELS:
        ours = inspect.signature(getattr(kernels, name)).parameters.keys()
        assert ours == inspect.signature(getattr(NumPyChannelKernels, name)).parameters.keys()


def check_registered_kernels(module, names) -> None:
    """Each name of backend.KERNEL_MODULES is in its module.

    A fast Function subclasses the reference Function of its name (same constructor, attributes).
    """
    for name in names:
        assert hasattr(module, name), f"{module.__name__} lacks the registered kernel {name}"
        kernel = getattr(module, name)
        if isinstance(kernel, type):
            reference_class = next(
                base for base in kernel.__mro__ if base.__module__.startswith("scratchnet.ops.")
            )
            assert reference_class.__name__ == name


def check_im2col(kernels, put, get, x_shape, geometry, dtype) -> None:
    x = random_array(x_shape, dtype)
    for pad_value in (0.0, -np.inf):
        expected = on_reference_kernels(reference_im2col.im2col, x, **geometry, pad_value=pad_value)
        assert_same(get(kernels.im2col(put(x), **geometry, pad_value=pad_value)), expected, dtype)
    out = put(
        np.full(expected.shape, np.nan, dtype)
    )  # into a given buffer, from a non-contiguous input
    x_t = put(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(0, 1, 3, 2)
    assert kernels.im2col(x_t, **geometry, pad_value=-np.inf, out=out) is out
    assert_same(get(out), expected, dtype)


def check_col2im(kernels, put, get, x_shape, geometry, dtype) -> None:
    col_shape = reference_im2col.im2col(np.zeros(x_shape, dtype), **geometry).shape
    col = random_array(col_shape, dtype, seed=1)
    expected = on_reference_kernels(reference_im2col.col2im, col, x_shape, **geometry)
    assert_same(get(kernels.col2im(put(col), x_shape, **geometry)), expected, dtype)
    # Into a contiguous buffer, and into a non-contiguous view (copied in at the end).
    out = put(np.full(x_shape, np.nan, dtype))
    assert kernels.col2im(put(col), x_shape, **geometry, out=out) is out
    assert_same(get(out), expected, dtype)
    big = put(np.full((*x_shape[:3], 2 * x_shape[3]), np.nan, dtype))
    view = big[..., ::2]
    assert kernels.col2im(put(col), x_shape, **geometry, out=view) is view
    assert_same(get(big)[..., ::2], expected, dtype)


def check_reorders(kernels, put, get, shape, dtype) -> None:
    N, OC, OH, OW = shape
    rows = random_array((OC, N * OH * OW), dtype)
    bias = random_array(OC, dtype, seed=1)
    for b in (None, bias):
        expected = rows.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # the reference conv's
        expected = expected if b is None else expected + b.reshape(1, OC, 1, 1)
        out = put(np.full(shape, np.nan, dtype))
        assert kernels.rows_to_nchw(put(rows), out, None if b is None else put(b)) is out
        assert_same(get(out), expected, dtype)
    y = random_array(shape, dtype, seed=2)
    rows_of_y = y.transpose(1, 0, 2, 3).reshape(OC, -1)  # (OC, N*OH*OW)
    assert_same(get(kernels.nchw_to_rows(put(y))), rows_of_y, dtype)
    out = put(np.empty((OC, N * OH * OW), dtype))
    assert kernels.nchw_to_rows(put(y), out=out) is out
    xp = backend.get_xp(put(y))
    y_broadcast = xp.broadcast_to(
        put(y[:1]), shape
    )  # a stride-0 view, as global pooling's backward sends
    expected = y[:1].repeat(N, 0).transpose(1, 0, 2, 3).reshape(OC, -1)
    assert_same(get(kernels.nchw_to_rows(y_broadcast)), expected, dtype)


def check_max_pool(kernels, put, get, x_shape, geometry, dtype) -> None:
    # Distinct values (no ties) for the index comparison; then ties and NaN separately.
    x = (np.random.default_rng(0).permutation(int(np.prod(x_shape))).reshape(x_shape) - 7.5).astype(
        dtype
    )
    y, indices = kernels.max_pool2d_forward(put(x), **geometry)
    y_ref, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, **geometry)
    assert_same(get(y), y_ref, dtype)
    assert get(indices).dtype == np.int64
    np.testing.assert_array_equal(get(indices), indices_ref)
    gy = random_array(y_ref.shape, dtype, seed=1)
    expected = on_reference_kernels(reference_pool.max_pool2d_backward, gy, indices_ref, x_shape)
    assert_same(
        get(kernels.max_pool2d_backward(put(gy), put(indices_ref), x_shape)), expected, dtype
    )


def check_max_pool_ties_and_nan(kernels, put, get) -> None:
    x = np.zeros((1, 1, 4, 4), np.float32)
    _, indices = kernels.max_pool2d_forward(put(x), 2, 2)
    np.testing.assert_array_equal(
        get(indices), [[[[0, 2], [8, 10]]]]
    )  # the first maximum wins a tie
    x[0, 0, 1, 1] = np.nan
    y, indices = kernels.max_pool2d_forward(put(x), 2, 2)
    y_ref, indices_ref = on_reference_kernels(reference_pool.max_pool2d_forward, x, 2, 2)
    np.testing.assert_array_equal(get(indices), indices_ref)  # a NaN wins, as in np.argmax
    assert np.isnan(get(y)[0, 0, 0, 0]) and np.isnan(y_ref[0, 0, 0, 0])


def check_avg_pool(kernels, put, get, x_shape, geometry, dtype) -> None:
    geometry = {k: v for k, v in geometry.items() if k != "dilation"}
    x = random_array(x_shape, dtype)
    for count_include_pad in (True, False):
        options = {**geometry, "count_include_pad": count_include_pad}
        y = kernels.avg_pool2d_forward(put(x), **options)
        y_ref = on_reference_kernels(reference_pool.avg_pool2d_forward, x, **options)
        assert_same(get(y), y_ref, dtype)
        gy = random_array(y_ref.shape, dtype, seed=1)
        expected = on_reference_kernels(reference_pool.avg_pool2d_backward, gy, x_shape, **options)
        assert_same(get(kernels.avg_pool2d_backward(put(gy), x_shape, **options)), expected, dtype)


def check_norm(kernels, put, get, shape, dtype) -> None:
    rng = np.random.default_rng(0)
    x3 = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g3 = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    a, b, c = (rng.standard_normal(C).astype(dtype) for _ in range(3))
    rtol = (
        1e-4 if dtype == np.float32 else 1e-10
    )  # float32 sums over thousands of values, in another order
    mean, var = kernels.channel_mean_var(put(x3))
    mean_ref, var_ref = NumPyChannelKernels.channel_mean_var(x3)
    assert_same(get(mean), mean_ref, dtype, rtol)
    assert_same(get(var), var_ref, dtype, rtol)
    sums = kernels.channel_grad_sums(put(g3), put(x3), put(mean_ref))
    for ours, theirs in zip(
        sums, NumPyChannelKernels.channel_grad_sums(g3, x3, mean_ref), strict=True
    ):
        assert_same(get(ours), theirs, dtype, rtol)
    assert_same(
        get(kernels.channel_affine(put(x3), put(a), put(b))),
        NumPyChannelKernels.channel_affine(x3, a, b),
        dtype,
    )
    expected = NumPyChannelKernels.channel_affine2(g3, x3, a, b, c)
    assert_same(
        get(kernels.channel_affine2(put(g3), put(x3), put(a), put(b), put(c))), expected, dtype
    )


# --------------------------------------------------------------------------- the op catalog


def on(device, array):
    return sn.tensor(array, device=device)


def host(t):
    """A tensor's values as a NumPy array (copied from the GPU), or None."""
    return None if t is None else np.array(backend.to_device(t.array, "cpu"))


def _bn(training, C):
    """batch_norm with running statistics made on the input's device (fresh ones every call)."""
    rng = np.random.default_rng(5)
    mean, var = rng.standard_normal(C), rng.random(C) + 0.5

    def fn(x, w, b):
        return F.batch_norm(x, on(x.device, mean), on(x.device, var), w, b, training=training)

    return fn


def _cross_entropy(x, target, weight):
    smooth = F.cross_entropy(x, target, weight, label_smoothing=0.1)
    ignored = F.cross_entropy(
        x, sn.where(target == 2, -100, target), ignore_index=-100, reduction="sum"
    )
    return smooth + ignored + F.nll_loss(F.log_softmax(x, dim=1), target, reduction="none").sum()


def _shapes(a):
    rows = sn.stack([a[0], a[2]])[:, :2].reshape(1, 4)[:, [0, 1, 1, 3, 2, 0]]  # (1, 6)
    joined = sn.cat([a.T.reshape(2, 6), a.flatten()[None, ::2], rows], 0)  # (4, 6)
    return (
        joined[:, [1, 1, 3]]
        + sn.pad(a, (1, 1)).split(2, 1)[0].sum()
        + a.permute(1, 0).chunk(2, 0)[1].sum()
    )


# name -> (function of tensors, inputs): a shape is a random float64 input that gets a gradient, an
# array a constant (class targets, class weights) moved to the device.
CATALOG = {
    "arithmetic": (
        lambda a, b: (a * b + a / (b.abs() + 1) - b**2).exp().log() + (a - b) ** 3.0,
        [(3, 4), (4,)],
    ),
    "unary": (
        lambda a: (
            a.tanh()
            + a.sigmoid()
            + a.relu()
            + a.clamp(-0.5, 0.5)
            + a.abs().sqrt()
            + F.leaky_relu(a, 0.1)
            + F.relu6(a * 4)
        ),
        [(2, 5)],
    ),
    "reductions": (
        lambda a: (
            a.sum(0)
            + a.mean(0)
            + a.var(0)
            + a.amax(0)
            + a.max(0).values
            + a.amin(1).sum()
            + F.softmax(a, dim=0)[1]
            + F.log_softmax(a, dim=0)[2]
        ),
        [(4, 3)],
    ),
    "shapes": (_shapes, [(3, 4)]),
    "matmul": (
        lambda a, b, w, bias: (a @ b).sum(0) @ F.linear(b.T, w, bias),
        [(2, 3, 4), (4, 5), (6, 4), (6,)],
    ),
    "conv": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    "conv-stride-dilation": (
        lambda x, w: F.conv2d(x, w, stride=2, padding=2, dilation=2),
        [(2, 3, 9, 8), (4, 3, 3, 2)],
    ),
    "conv-groups-same": (
        lambda x, w, d: (
            F.conv2d(x, w, groups=2, padding=1)
            + F.conv2d(x, d, groups=4, padding="same")[:, :2].sum()
        ),
        [(2, 4, 5, 5), (6, 2, 3, 3), (4, 1, 2, 2)],
    ),
    "max-pool": (lambda x: F.max_pool2d(x, 3, 2, 1).sum() + F.max_pool2d(x, 2), [(2, 3, 8, 8)]),
    "max-pool-ceil-dilation": (
        lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True).sum() + F.max_pool2d(x, 2, 1, dilation=2),
        [(1, 2, 7, 6)],
    ),
    "avg-pool": (
        lambda x: (
            F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).sum()
            + F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
        ),
        [(2, 2, 8, 7)],
    ),
    "adaptive-global-pool": (
        lambda x: (
            F.adaptive_avg_pool2d(x, (2, 3)).sum()
            + F.adaptive_max_pool2d(x, (3, 2))
            + F.global_avg_pool2d(x)
        ),
        [(2, 3, 7, 5)],
    ),
    "batch-norm-train": (_bn(True, 3), [(4, 3, 5, 4), (3,), (3,)]),
    "batch-norm-eval": (_bn(False, 3), [(4, 3, 5, 4), (3,), (3,)]),
    "batch-norm-1d": (_bn(True, 5), [(6, 5), (5,), (5,)]),
    "cross-entropy": (
        _cross_entropy,
        [(6, 4), np.array([0, 3, 2, 1, 3, 2]), np.array([1.0, 2.0, 0.5, 1.5])],
    ),
    "losses": (
        lambda x, t, p: (
            F.mse_loss(x, t) + F.binary_cross_entropy_with_logits(x, t.sigmoid(), pos_weight=p)
        ),
        [(3, 4), (3, 4), np.array([1.0, 2.0, 0.5, 3.0])],
    ),
}
WINDOW_OPS = [name for name in CATALOG if "conv" in name or "pool" in name or "norm" in name]


def catalog_inputs(name, device):
    """The entry's inputs on ``device``: random float64 ones requiring gradients (off the kinks of
    ReLU, clamp and max, almost surely), and the constants."""
    rng = np.random.default_rng(sorted(CATALOG).index(name))
    return [
        on(device, spec)
        if isinstance(spec, np.ndarray)
        else sn.tensor(rng.standard_normal(spec) + 0.05, device=device, requires_grad=True)
        for spec in CATALOG[name][1]
    ]


def run_catalog(name, device):
    """Forward and backward (random upstream gradient) on ``device``; results as NumPy arrays."""
    fn, _ = CATALOG[name]
    inputs = catalog_inputs(name, device)
    y = fn(*inputs)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(sn.tensor(g, dtype=y.dtype, device=device))
    assert y.device == device
    return [host(y), *(host(t.grad) for t in inputs if t.requires_grad)]


def check_catalog(name, device, reference_on_device=False) -> None:
    """Forward and gradients on ``device`` == the CPU reference path (float64)."""
    with backend.reference_kernels():
        expected = run_catalog(name, "cpu")
        if reference_on_device:
            ours = run_catalog(name, device)
    if not reference_on_device:
        ours = run_catalog(name, device)
    for a, b in zip(ours, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def check_catalog_gradcheck(name, device) -> None:
    fn, _ = CATALOG[name]
    assert sn.gradcheck(fn, catalog_inputs(name, device))


# ------------------------------------------------------------------ modules and a training step


def model(seed=0):
    sn.manual_seed(seed)
    return resnet20(num_classes=10)


def training_step(device, dtype):
    """One SGD step of a CIFAR ResNet-20: (loss, gradients by name, state after the step)."""
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((4, 3, 32, 32)), rng.integers(0, 10, 4)
    net = model().to(dtype).to(device)
    optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x, t = sn.tensor(images, dtype=dtype, device=device), sn.tensor(labels, device=device)
    loss = F.cross_entropy(net(x), t)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    grads = {name: host(p.grad) for name, p in net.named_parameters()}
    return host(loss), grads, {k: np.asarray(v) for k, v in net.state_dict().items()}


def check_training_step(device, dtype) -> None:
    """Loss, every gradient, the updated weights and the BN statistics match the CPU reference's.

    float64: to 1e-9. float32: sums in another order round differently, and batch norm over a few
    hundred values per channel amplifies that in some gradients (the CPU's fast and reference paths
    differ by up to 0.5% there, in relative L2 norm), so float32 gradients and the state after the
    step (a bias that starts at 0 is just -lr times its gradient) are held to 5%, the loss to 1e-5.
    """
    with backend.reference_kernels():
        loss_cpu, grads_cpu, state_cpu = training_step("cpu", dtype)
    loss, grads, state = training_step(device, dtype)
    if dtype == np.float64:
        np.testing.assert_allclose(loss, loss_cpu, rtol=1e-9)
        for name in grads_cpu:
            np.testing.assert_allclose(
                grads[name], grads_cpu[name], rtol=1e-9, atol=1e-11, err_msg=name
            )
        for name in state_cpu:
            np.testing.assert_allclose(
                state[name], state_cpu[name], rtol=1e-9, atol=1e-11, err_msg=name
            )
        return
    np.testing.assert_allclose(loss, loss_cpu, rtol=1e-5)
    for name in grads_cpu:
        assert _relative_error(grads[name], grads_cpu[name]) < 5e-2, name
    for name in state_cpu:
        assert _relative_error(state[name], state_cpu[name]) < 5e-2, name


def _relative_error(ours, reference) -> float:
    """||ours - reference|| / ||reference|| (0 when both are 0)."""
    scale = np.linalg.norm(reference.astype(np.float64))
    return (
        float(np.linalg.norm((ours - reference).astype(np.float64)) / scale)
        if scale
        else float(np.abs(ours).max())
    )


def check_module_to(device) -> None:
    """Module.to moves parameters, buffers and gradients in place, and back."""
    net = model()
    x = sn.randn(2, 3, 32, 32)
    F.cross_entropy(net(x), sn.tensor(np.array([1, 7]))).backward()
    params = list(net.parameters())
    optimizer = optim.SGD(net.parameters(), lr=0.1)
    assert net.to(device) is net
    assert [id(p) for p in net.parameters()] == [
        id(p) for p in params
    ]  # the same objects, moved in place
    assert all(p.device == device and p.grad.device == device for p in net.parameters())
    assert all(b.device == device for b in net.buffers())
    before = host(params[0]).copy()
    optimizer.step()  # built before the move, it updates the moved parameters
    assert params[0].device == device and not np.allclose(host(params[0]), before)
    assert net(x.to(device)).device == device
    net.cpu()
    assert all(p.device == "cpu" and p.grad.device == "cpu" for p in net.parameters())
    assert all(b.device == "cpu" for b in net.buffers())


# ------------------------------------------------------------------- optimizers, data, dropout

OPTIMIZERS = {
    "sgd-nesterov": lambda ps: optim.SGD(
        ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2
    ),
    "adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
    "rmsprop-centered": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
}


def check_optimizer(name, device) -> None:
    """Three steps, a state_dict round trip (CPU arrays, loaded back on the device), one more."""
    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(3)]
    finals = []
    for where in ("cpu", device):
        p = sn.tensor(start, device=where, requires_grad=True)
        optimizer = OPTIMIZERS[name]([p])
        for g in grads:
            p.grad = sn.tensor(g, device=where)
            optimizer.step()
        optimizer.load_state_dict(optimizer.state_dict())
        assert all(
            backend.device_of(v) == where
            for v in optimizer.state[p].values()
            if hasattr(v, "shape")
        )
        p.grad = sn.tensor(grads[0], device=where)
        optimizer.step()
        assert p.device == where
        finals.append(host(p))
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-10)


def check_data_loader(device) -> None:
    images = np.arange(10 * 3 * 2 * 2, dtype=np.float32).reshape(10, 3, 2, 2)
    dataset = TensorDataset(images, np.arange(10))
    cpu_batches = list(DataLoader(dataset, batch_size=4, shuffle=True, seed=1))
    batches = list(DataLoader(dataset, batch_size=4, shuffle=True, seed=1, device=device))
    assert len(batches) == 3
    for (x, y), (x_cpu, y_cpu) in zip(batches, cpu_batches, strict=True):
        assert x.device == device and y.device == device
        np.testing.assert_array_equal(host(x), host(x_cpu))
        np.testing.assert_array_equal(host(y), host(y_cpu))


def check_dropout(device) -> None:
    x = sn.ones(200, 50, device=device, requires_grad=True)
    sn.manual_seed(3)
    y = F.dropout(x, 0.3)
    assert y.device == device
    values = host(y)
    np.testing.assert_allclose(
        np.unique(values), [0.0, 1 / 0.7], rtol=1e-6
    )  # dropped, or scaled by 1 / (1 - p)
    assert abs((values == 0).mean() - 0.3) < 0.02
    y.backward(sn.ones(200, 50, device=device))
    np.testing.assert_array_equal(host(x.grad), values)  # the gradient passes through the same mask
    sn.manual_seed(3)
    np.testing.assert_array_equal(host(F.dropout(x, 0.3)), values)  # reproducible from the seed
    assert (host(F.dropout(x, 0.3)) != values).any()  # and a new mask at the next call


def check_devices_do_not_mix(device) -> None:
    x, w = sn.randn(1, 3, 5, 5), sn.randn(2, 3, 3, 3, device=device)
    try:
        F.conv2d(x, w)
    except RuntimeError as error:
        expected = (
            "Conv2d: expected all tensors on the same device, got cpu (1, 3, 5, 5), "
            f"{device} (2, 3, 3, 3)"
        )
        assert expected in str(error)
    else:
        raise AssertionError("a CPU and a GPU tensor met without an error")
    bn = nn.BatchNorm2d(3)
    try:
        F.batch_norm(x.to(device), bn.running_mean, bn.running_var, training=True)
    except RuntimeError as error:
        assert f"batch_norm: input is on {device} but running_mean is on cpu" in str(error)
    else:
        raise AssertionError("batch_norm accepted running statistics on another device")
