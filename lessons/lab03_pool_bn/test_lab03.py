"""Checks for lab 3. Run them from this folder with:  python -m scratchnet.labs check ."""

import numpy as np
import pool_bn as lab
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.nn import functional as F

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"3.1": 3, "3.2": 4, "3.3": 5, "3.4": 5, "3.5": 3}
# scratchnet's own versions of what this lab asks you to write: your file may not call them.
FORBIDDEN = (
    "scratchnet.ops.pool",
    "scratchnet.ops.norm",
    "scratchnet.nn.pooling",
    "scratchnet.nn.norm",
    "scratchnet.kernels",
)


def distinct(rng, *shape):
    """Values all different from each other (no ties in a max-pool window), in random order."""
    return rng.permutation(np.linspace(-2, 2, int(np.prod(shape)))).reshape(shape)


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (3, 1)])
def test_pool_forward(kernel, stride):
    """Task 3.1: max pooling matches scratchnet's (2x2/2 as VGG, 3x3/2 as GoogLeNet)"""
    x = distinct(np.random.default_rng(0), 2, 3, 7, 6)
    y = lab.max_pool2d(sn.tensor(x), kernel, stride)
    expected = F.max_pool2d(sn.tensor(x), kernel, stride).numpy()
    expect_shape(
        y, expected.shape, f"max_pool2d(x of shape {x.shape}, kernel={kernel}, stride={stride})"
    )
    expect_close(y, expected, f"max_pool2d(x, kernel={kernel}, stride={stride})")


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2)])
def test_pool_backward_gradcheck(kernel, stride):
    """Task 3.2: max pooling's backward passes gradcheck (values without ties)"""
    x = sn.tensor(distinct(np.random.default_rng(1), 2, 2, 5, 5), requires_grad=True)
    expect_gradcheck(
        lambda t: lab.max_pool2d(t, kernel, stride),
        [x],
        f"max_pool2d backward (kernel={kernel}, stride={stride})",
        names=("x",),
    )


def test_pool_backward_overlapping_winner():
    """Task 3.2: an element that wins several overlapping windows receives all their gradients"""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre is the maximum of all four 2x2 windows (stride 1)
    function = lab.MaxPool2dFunction(2, 1)
    function.forward(x)
    gy = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    expect_close(
        function.backward(gy), expected, "MaxPool2dFunction(2, 1).backward: gradient of the centre"
    )


def test_pool_backward_ties():
    """Task 3.2: in a tie the first maximum of the window
    (row by row) takes the whole gradient, as in PyTorch"""
    # every 2x2 window has tied 3s
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]])
    function = lab.MaxPool2dFunction(2, 1)
    function.forward(x)
    gy = np.array([[[[1.0, 2.0], [4.0, 8.0]]]])
    # torch.nn.functional.max_pool2d gives these (and scratchnet's reference too): window (0, 0)
    # sends its 1 to x[0, 1], window (0, 1) its 2 to x[0, 1] as well, window (1, 0) its 4 to
    # x[1, 0], window (1, 1) its 8 to x[1, 2]. Splitting a gradient among the tied elements is not
    # what PyTorch does.
    expected = np.array([[[[0.0, 3.0, 0.0], [4.0, 0.0, 8.0], [0.0, 0.0, 0.0]]]])
    expect_close(
        function.backward(gy), expected, "MaxPool2dFunction(2, 1).backward with tied maxima"
    )


def bn_inputs(rng, N=4, C=3, H=3, W=2):
    x = rng.standard_normal((N, C, H, W)) * 2 + 1
    return x, rng.standard_normal(C), rng.standard_normal(C)


def test_bn_forward_training():
    """Task 3.3: batch norm in training matches scratchnet's;
    with gamma = 1, beta = 0 each channel has mean 0, var 1"""
    x, gamma, beta = bn_inputs(np.random.default_rng(2))
    C = x.shape[1]
    function = lab.BatchNormFunction(np.zeros(C), np.ones(C), training=True)
    y = function(sn.tensor(x), sn.tensor(gamma), sn.tensor(beta))
    expected = F.batch_norm(
        sn.tensor(x), None, None, sn.tensor(gamma), sn.tensor(beta), training=True
    ).numpy()
    expect_close(y, expected, "batch norm (training) output", atol=1e-5)
    normalised = lab.BatchNormFunction(np.zeros(C), np.ones(C), training=True).forward(
        x, np.ones(C), np.zeros(C)
    )
    expect_close(
        normalised.mean(axis=(0, 2, 3)), np.zeros(C), "per-channel mean of x_hat", atol=1e-6
    )
    expect_close(
        normalised.var(axis=(0, 2, 3)), np.ones(C), "per-channel variance of x_hat", atol=1e-3
    )


def test_bn_constant_channel():
    """Task 3.3: a constant channel (variance 0) normalises to 0,
    so its output is beta: eps keeps it finite"""
    x, gamma, beta = bn_inputs(np.random.default_rng(9))
    x[:, 1] = 3.0  # a channel that never changes, e.g. a dead feature map after ReLU
    C = x.shape[1]
    y = lab.BatchNormFunction(np.zeros(C), np.ones(C), training=True).forward(x, gamma, beta)
    if not np.isfinite(y).all():
        raise AssertionError(
            "batch norm of a constant channel gave NaN "
            "or inf: divide by sqrt(var + eps), eps = 1e-5"
        )
    expect_close(
        y[:, 1],
        np.full_like(y[:, 1], beta[1]),
        "the output of a constant channel (x_hat = 0: beta)",
    )


def test_bn_running_statistics():
    """Task 3.3: training updates the running statistics
    in place (momentum 0.1, unbiased variance)"""
    x, gamma, beta = bn_inputs(np.random.default_rng(3))
    C, n = x.shape[1], x.size // x.shape[1]
    running_mean, running_var = np.full(C, 0.5), np.full(C, 2.0)
    lab.BatchNormFunction(running_mean, running_var, training=True, momentum=0.1).forward(
        x, gamma, beta
    )
    expect_close(
        running_mean, 0.9 * 0.5 + 0.1 * x.mean(axis=(0, 2, 3)), "running_mean after one batch"
    )
    expect_close(
        running_var,
        0.9 * 2.0 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1),
        "running_var after one batch",
    )


def test_bn_forward_eval():
    """Task 3.3: in eval mode the running statistics normalise, and are not changed"""
    x, gamma, beta = bn_inputs(np.random.default_rng(4))
    running_mean, running_var = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.5, 4.0])
    function = lab.BatchNormFunction(running_mean.copy(), running_var.copy(), training=False)
    y = function.forward(x, gamma, beta)
    shape = (1, 3, 1, 1)
    expected = (
        gamma.reshape(shape)
        * (x - running_mean.reshape(shape))
        / np.sqrt(running_var.reshape(shape) + 1e-5)
    )
    expect_close(y, expected + beta.reshape(shape), "batch norm (eval) output")
    expect_close(
        function.running_mean, running_mean, "running_mean after an eval-mode forward (unchanged)"
    )


def test_bn_backward_training_gradcheck():
    """Task 3.4: batch norm's backward (training) passes gradcheck for x, gamma and beta"""
    x, gamma, beta = bn_inputs(np.random.default_rng(5), N=3, C=2, H=2, W=2)
    C = x.shape[1]
    inputs = [sn.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    expect_gradcheck(
        lambda *t: lab.BatchNormFunction(np.zeros(C), np.ones(C), training=True)(*t),
        inputs,
        "batch norm backward (training)",
        names=("x", "gamma", "beta"),
    )


def test_bn_backward_ones_upstream_gives_zero():
    """Task 3.4: with an upstream gradient of ones,
    dL/dx is exactly 0 in training (the mean/var terms)"""
    x, gamma, beta = bn_inputs(np.random.default_rng(6))
    C = x.shape[1]
    function = lab.BatchNormFunction(np.zeros(C), np.ones(C), training=True)
    function.forward(x, gamma, beta)
    gx = function.backward(np.ones_like(x))[0]
    # sum(y) = n * sum(beta) whatever x is, so its gradient with respect to x is 0. A backward
    # without the two statistics terms (just gy * gamma / std) fails here.
    expect_close(gx, np.zeros_like(x), "dL/dx for L = sum(batch_norm(x)) (training)", atol=1e-9)


def test_bn_backward_eval_gradcheck():
    """Task 3.4: batch norm's backward (eval) passes gradcheck"""
    x, gamma, beta = bn_inputs(np.random.default_rng(7), N=3, C=2, H=2, W=2)
    inputs = [sn.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    running_mean, running_var = np.array([0.3, -0.2]), np.array([1.2, 0.7])
    expect_gradcheck(
        lambda *t: lab.BatchNormFunction(running_mean, running_var, training=False)(*t),
        inputs,
        "batch norm backward (eval)",
        names=("x", "gamma", "beta"),
    )


def test_layer_state():
    """Task 3.5: MyBatchNorm2d has parameters weight, bias and buffers running_mean, running_var"""
    layer = lab.MyBatchNorm2d(4)
    expect_equal(
        [name for name, _ in layer.named_parameters()],
        ["weight", "bias"],
        "MyBatchNorm2d(4)'s parameters",
    )
    expect_equal(
        sorted(layer.state_dict()),
        ["bias", "running_mean", "running_var", "weight"],
        "MyBatchNorm2d(4).state_dict() keys",
    )
    expect_close(layer.running_var, np.ones(4), "running_var at the start")


def test_layer_matches_batchnorm2d():
    """Task 3.5: MyBatchNorm2d behaves as nn.BatchNorm2d in training and in eval mode"""
    rng = np.random.default_rng(8)
    mine, reference = lab.MyBatchNorm2d(3), nn.BatchNorm2d(3)
    for step in range(3):
        x = sn.tensor(rng.standard_normal((4, 3, 2, 2)).astype(np.float32) * 3 + step)
        expect_close(mine(x), reference(x), f"training-mode output, batch {step}", atol=1e-5)
    expect_close(
        mine.running_mean, reference.running_mean, "running_mean after 3 batches", atol=1e-5
    )
    mine.eval()
    reference.eval()
    x = sn.tensor(rng.standard_normal((2, 3, 2, 2)).astype(np.float32))
    expect_close(mine(x), reference(x), "eval-mode output (running statistics)", atol=1e-5)
