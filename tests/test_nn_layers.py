"""The layers: shapes and parameter counts at construction,
default init, BatchNorm state, clear errors, nn.init, F."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import count_params

import scratchnet as sn
from scratchnet import nn
from scratchnet.nn import functional as F
from scratchnet.nn import init

# --------------------------------------------------------------------------- shapes and parameters


def test_parameter_counts_are_known_before_any_data_flows():
    assert count_params(nn.Conv2d(3, 64, 3)) == 64 * 3 * 9 + 64  # VGG's first layer: 1,792
    assert count_params(nn.Conv2d(64, 64, 3, bias=False)) == 36_864
    assert count_params(nn.Conv2d(64, 128, 1, groups=4)) == 128 * 16 + 128
    assert count_params(nn.Linear(512, 10)) == 5130  # a ResNet-18 head for CIFAR-10
    assert count_params(nn.BatchNorm2d(64)) == 128
    assert count_params(nn.BatchNorm2d(64, affine=False)) == 0
    conv = nn.Conv2d(6, 12, (3, 5), groups=3)
    assert conv.weight.shape == (12, 2, 3, 5) and conv.bias.shape == (12,)


@pytest.mark.parametrize(
    ("layer", "in_shape", "out_shape"),
    [
        (lambda: nn.Conv2d(3, 8, 3), (2, 3, 10, 12), (2, 8, 8, 10)),
        (lambda: nn.Conv2d(3, 8, 3, stride=2, padding=1), (2, 3, 10, 12), (2, 8, 5, 6)),
        (lambda: nn.Conv2d(4, 8, (1, 3), padding="same", groups=2), (2, 4, 7, 7), (2, 8, 7, 7)),
        (lambda: nn.Linear(5, 7), (3, 5), (3, 7)),
        (lambda: nn.Linear(5, 7, bias=False), (2, 3, 5), (2, 3, 7)),
        (lambda: nn.BatchNorm1d(4), (6, 4), (6, 4)),
        (lambda: nn.BatchNorm1d(4), (6, 4, 3), (6, 4, 3)),
        (lambda: nn.BatchNorm2d(4), (2, 4, 3, 3), (2, 4, 3, 3)),
        (lambda: nn.MaxPool2d(2), (2, 3, 8, 9), (2, 3, 4, 4)),
        (lambda: nn.MaxPool2d(3, 2, ceil_mode=True), (1, 1, 8, 8), (1, 1, 4, 4)),
        (lambda: nn.AvgPool2d(3, stride=1, padding=1), (2, 3, 5, 5), (2, 3, 5, 5)),
        (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 7, 5), (2, 3, 1, 1)),
        (lambda: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 5), (2, 3, 2, 3)),
        (lambda: nn.Flatten(), (2, 3, 4, 5), (2, 60)),
        (lambda: nn.Flatten(0, 1), (2, 3, 4), (6, 4)),
        (lambda: nn.Identity(54, unused="x"), (2, 3), (2, 3)),
        (lambda: nn.Dropout(0.2), (4, 5), (4, 5)),
    ],
)
def test_output_shapes(layer, in_shape, out_shape):
    assert layer()(sn.randn(*in_shape)).shape == out_shape


def test_return_indices_of_max_pools():
    """The outputs are the window maxima, and the indices are int64 flat positions in each (H, W)
    plane (PyTorch's convention): gathering the input there gives the output."""
    a = np.random.default_rng(0).permutation(32).reshape(1, 2, 4, 4).astype(np.float32)
    windows = a.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5))  # 2x2 windows, stride 2
    for pool, expected in [
        (nn.MaxPool2d(2, return_indices=True), windows),
        (nn.AdaptiveMaxPool2d(1, return_indices=True), a.max(axis=(2, 3), keepdims=True)),
    ]:
        y, idx = pool(sn.tensor(a))
        np.testing.assert_array_equal(y.numpy(), expected)
        assert idx.dtype == np.int64 and idx.shape == y.shape
        planes, flat = a.reshape(1, 2, 16), idx.numpy().reshape(1, 2, -1)
        np.testing.assert_array_equal(
            np.take_along_axis(planes, flat, 2).reshape(y.shape), expected
        )


LAYERS = [
    lambda: nn.Conv2d(8, 16, 3),
    lambda: nn.Linear(72, 16),
    lambda: nn.Conv2d(8, 16, 3, groups=4),
]


@pytest.mark.parametrize("make", LAYERS)
def test_default_init_is_pytorchs(make):
    # Kaiming-uniform with a = sqrt(5):
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
    layer = make()
    fan_in = layer.weight.numel() // layer.weight.shape[0]
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.array).max() <= bound
        assert p.dtype == np.float32
    assert np.abs(layer.weight.array).max() > 0.9 * bound
    assert layer.weight.array.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_default_init_is_seeded():
    sn.manual_seed(1)
    a = nn.Conv2d(3, 4, 3).weight.array.copy()
    sn.manual_seed(1)
    np.testing.assert_array_equal(nn.Conv2d(3, 4, 3).weight.array, a)


# --------------------------------------------------------------------------- BatchNorm module state


def test_batchnorm_buffers_and_counter():
    bn = nn.BatchNorm2d(3)
    assert [name for name, _ in bn.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    x = sn.randn(4, 3, 2, 2) * 2 + 1
    bn(x)
    bn(x)
    assert bn.num_batches_tracked.item() == 2
    mean = bn.running_mean.array.copy()
    bn.eval()
    y = bn(x)
    assert bn.num_batches_tracked.item() == 2
    np.testing.assert_array_equal(bn.running_mean.array, mean)  # eval never updates
    expected = (x.array - mean[None, :, None, None]) / np.sqrt(
        bn.running_var.array[None, :, None, None] + 1e-5
    )
    np.testing.assert_allclose(y.array, expected, rtol=1e-5, atol=1e-6)
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and (bn.running_var.array == 1).all()


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [sn.randn(5, 2) * (i + 1) + i for i in range(4)]
    for batch in batches:
        bn(batch)
    expected = np.mean([b.array.mean(axis=0) for b in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.array, expected, rtol=1e-5)


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm2d(3, track_running_stats=False).eval()
    assert bn.running_mean is None and list(bn.state_dict()) == ["weight", "bias"]
    y = bn(sn.randn(4, 3, 2, 2) * 5 + 3).array
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)


# ------------------------------------------------------------ errors that name the layer and shapes


def test_conv_errors():
    conv = nn.Conv2d(3, 64, 3)
    with pytest.raises(ValueError) as error:
        conv(sn.randn(8, 1, 28, 28))
    assert (
        str(error.value)
        == "Conv2d(3, 64) expects 3 input channels, got 1 for input of shape (8, 1, 28, 28)"
    )
    with pytest.raises(ValueError) as error:
        conv(sn.randn(3, 32, 32))
    assert (
        str(error.value) == "Conv2d(3, 64) expects a 4-D input (N, C, H, W), got shape (3, 32, 32)"
    )
    with pytest.raises(
        ValueError, match=r"groups=2 must divide both in_channels \(3\) and out_channels \(64\)"
    ):
        nn.Conv2d(3, 64, 3, groups=2)
    with pytest.raises(
        ValueError, match=r"groups=4 must divide both in_channels \(8\) and out_channels \(6\)"
    ):
        nn.Conv2d(8, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        nn.Conv2d(3, 4, 7)(sn.randn(1, 3, 4, 4))


def test_batchnorm_errors():
    with pytest.raises(ValueError) as error:
        nn.BatchNorm2d(64)(sn.randn(2, 32, 4, 4))
    assert (
        str(error.value)
        == "BatchNorm2d(64) expects 64 channels, got 32 for input of shape (2, 32, 4, 4)"
    )
    with pytest.raises(
        ValueError, match=r"BatchNorm2d\(3\) expects a 4-D \(N, C, H, W\) input, got shape \(2, 3\)"
    ):
        nn.BatchNorm2d(3)(sn.randn(2, 3))
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3\) expects a 2-D \(N, C\) or 3-D \(N, C, L\) input"
    ):
        nn.BatchNorm1d(3)(sn.randn(2, 3, 4, 4))


def test_linear_errors():
    with pytest.raises(ValueError) as error:
        nn.Linear(512, 10)(sn.randn(8, 256))
    assert (
        str(error.value) == "Linear(512, 10) expects inputs of shape (..., 512), got shape (8, 256)"
    )


def test_pool_errors_name_the_op():
    with pytest.raises(ValueError, match=r"max_pool2d.*\(2, 3\)"):
        nn.MaxPool2d(2)(sn.randn(2, 3))


# --------------------------------------------------------------------------- nn.init


def test_calculate_gain(torch):
    for args in [
        ("linear",),
        ("conv2d",),
        ("sigmoid",),
        ("tanh",),
        ("relu",),
        ("leaky_relu",),
        ("leaky_relu", 0.2),
        ("selu",),
    ]:
        assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_kaiming_and_xavier_statistics():
    w = sn.zeros(256, 128, 3, 3)  # fan_in = 1152, fan_out = 2304
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.array.std() == pytest.approx(math.sqrt(2 / 2304), rel=0.02)
    init.kaiming_normal_(w)  # leaky_relu with a=0 = relu gain, fan_in
    assert w.array.std() == pytest.approx(math.sqrt(2 / 1152), rel=0.02)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.abs(w.array).max() <= 1 / math.sqrt(1152)
    assert w.array.std() == pytest.approx(1 / math.sqrt(3 * 1152), rel=0.02)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2 * math.sqrt(6 / (1152 + 2304))
    assert np.abs(w.array).max() <= bound and np.abs(w.array).max() > 0.99 * bound
    init.xavier_normal_(w)
    assert w.array.std() == pytest.approx(math.sqrt(2 / (1152 + 2304)), rel=0.02)
    assert w.dtype == np.float32


def test_simple_initialisers():
    w = nn.Parameter(sn.zeros(300, 400))  # requires grad: init works under no_grad
    assert init.normal_(w, mean=2.0, std=0.5) is w
    assert w.array.mean() == pytest.approx(2.0, abs=0.01) and w.array.std() == pytest.approx(
        0.5, rel=0.02
    )
    init.uniform_(w, -3, -1)
    assert (
        w.array.min() >= -3
        and w.array.max() <= -1
        and w.array.mean() == pytest.approx(-2, abs=0.01)
    )
    init.trunc_normal_(w, mean=0.0, std=1.0, a=-0.5, b=1.0)
    assert w.array.min() >= -0.5 and w.array.max() <= 1.0 and w.array.min() < -0.49
    init.constant_(w, 0.25)
    assert (w.array == 0.25).all()
    init.ones_(w)
    assert (w.array == 1).all()
    init.zeros_(w)
    assert (w.array == 0).all() and w.is_leaf and w.grad is None
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(sn.zeros(5))
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(sn.zeros(2, 2), mode="fan_avg")


def test_init_is_reproducible():
    w = sn.zeros(4, 4)
    sn.manual_seed(3)
    a = init.kaiming_normal_(w).array.copy()
    sn.manual_seed(3)
    np.testing.assert_array_equal(init.kaiming_normal_(w).array, a)


# --------------------------------------------------------------------------- the F namespace


def test_functional_namespace():
    for name in [
        "conv2d",
        "conv2d_naive",
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        "adaptive_max_pool2d",
        "global_avg_pool2d",
        "batch_norm",
        "relu",
        "relu6",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "softmax",
        "log_softmax",
        "dropout",
        "linear",
        "cross_entropy",
        "nll_loss",
        "mse_loss",
        "binary_cross_entropy_with_logits",
        "pad",
        "flatten",
        "cat",
    ]:
        assert callable(getattr(F, name)), name
    assert nn.functional is F


def test_functional_forms_compute_numpys_values():
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    x = sn.tensor(a)
    # (left, right, top, bottom): the last dim first, as F.pad counts
    padded = np.pad(a, [(0, 0), (0, 0), (2, 0), (1, 1)])
    np.testing.assert_array_equal(F.pad(x, (1, 1, 2, 0)).numpy(), padded)
    np.testing.assert_array_equal(F.cat([x, 2 * x], dim=1).numpy(), np.concatenate([a, 2 * a], 1))
    np.testing.assert_array_equal(F.flatten(x, 1).numpy(), a.reshape(2, 48))
    np.testing.assert_allclose(
        F.global_avg_pool2d(x).numpy(), a.mean((2, 3), keepdims=True), rtol=1e-12
    )
    inputs, weight, bias = a[0, 0], a[1, 0, :3], a[1, 1, 0]  # (4, 4), (3, 4), (4,) -> (3,)
    np.testing.assert_allclose(
        F.linear(sn.tensor(inputs), sn.tensor(weight)).numpy(), inputs @ weight.T, rtol=1e-12
    )
    np.testing.assert_allclose(
        F.linear(sn.tensor(inputs), sn.tensor(weight), sn.tensor(bias[:3])).numpy(),
        inputs @ weight.T + bias[:3],
        rtol=1e-12,
    )
