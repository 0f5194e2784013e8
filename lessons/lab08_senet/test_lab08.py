"""Checks for lab 8. Run them from this folder with:  python -m scratchnet.labs check ."""

import numpy as np
import pytest
import se_blocks as lab

import scratchnet as sn
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.nn import functional as F

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"8.1": 8, "8.2": 7, "8.3": 5}

# SE-ResNet-50's parameters per reduction ratio r, counted with the FC biases
# (scratchnet/models/senet.py), and the lecture's table (slide "Attentions (5)"), in millions.
SE_RESNET50 = {
    2: (45_699_240, 45.7),
    4: (35_635_688, 35.7),
    8: (30_603_912, 30.7),
    16: (28_088_024, 28.1),
    32: (26_830_080, 26.9),
}


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_se_block_shapes():
    """Task 8.1: SEBlock keeps the shape; fc1 is C -> C/r, fc2 is C/r -> C"""
    block = lab.SEBlock(16, reduction=4)
    expect_shape(block(sn.randn(2, 16, 5, 5)), (2, 16, 5, 5), "SEBlock(16, 4) on (2, 16, 5, 5)")
    expect_shape(block.fc1.weight, (4, 16), "fc1.weight (C/r, C)")
    expect_shape(block.fc2.weight, (16, 4), "fc2.weight (C, C/r)")
    expect_shape(
        lab.SEBlock(3, reduction=16).fc1.weight,
        (1, 3),
        "SEBlock(3, 16).fc1.weight (at least 1 hidden unit)",
    )


def test_se_block_formula():
    """Task 8.1: x~_c = s_c * u_c
    with s = sigmoid(W2 relu(W1 z + b1) + b2), z the per-channel mean"""
    block = lab.SEBlock(6, reduction=2)
    u = sn.randn(3, 6, 4, 4)
    z = u.numpy().mean(axis=(2, 3))  # (N, C)
    w1, b1, w2, b2 = (
        p.numpy() for p in (block.fc1.weight, block.fc1.bias, block.fc2.weight, block.fc2.bias)
    )
    s = sigmoid(np.maximum(z @ w1.T + b1, 0) @ w2.T + b2)  # (N, C)
    expect_close(block(u), u.numpy() * s[:, :, None, None], "SEBlock(6, 2)(u)", atol=1e-5)
    expect_shape(block.last_excitation, (3, 6), "last_excitation (N, C)")
    expect_close(block.last_excitation, s, "last_excitation", atol=1e-5)


def test_se_block_zero_weights_halve():
    """Task 8.1: with all FC weights and biases 0, every excitation is sigmoid(0) = 0.5"""
    block = lab.SEBlock(4, reduction=2)
    with sn.no_grad():
        for p in block.parameters():
            p.fill_(0)
    u = sn.randn(2, 4, 3, 3)
    expect_close(block(u), 0.5 * u.numpy(), "SEBlock with zero weights: u * 0.5", atol=1e-6)


def test_se_block_gradcheck():
    """Task 8.1: the SE block's gradient
    (u feeds both the squeeze and the scale) passes gradcheck"""
    block = lab.SEBlock(4, reduction=2).double()
    u = sn.tensor(np.random.default_rng(0).standard_normal((2, 4, 3, 3)), requires_grad=True)
    expect_gradcheck(block, [u], "SEBlock(4, 2) backward", names=("u",))


def test_se_params():
    """Task 8.2: se_params counts both FC layers with biases (2C^2/r + C/r + C)"""
    expect_equal(lab.se_params(256, 16), 2 * 256 * 16 + 16 + 256, "se_params(256, 16)")
    expect_equal(
        lab.se_params(64, 4),
        sum(p.numel() for p in lab.SEBlock(64, 4).parameters()),
        "se_params(64, 4) vs the parameters of your SEBlock(64, 4)",
    )


@pytest.mark.parametrize("reduction", sorted(SE_RESNET50))
def test_se_resnet50_params(reduction):
    """Task 8.2: se_resnet50_params(r) = scratchnet's
    SE-ResNet-50 count, within 0.1M of the lecture's table"""
    exact, slide = SE_RESNET50[reduction]
    got = lab.se_resnet50_params(reduction)
    expect_equal(got, exact, f"se_resnet50_params({reduction})")
    if abs(got / 1e6 - slide) > 0.1:
        raise AssertionError(
            f"se_resnet50_params({reduction}) = {got / 1e6:.2f}M, the slide says {slide}M"
        )


def expected_output(block, x):
    """The design's formula, from the block's own layers."""
    branch, se = block.residual_branch, block.se
    formulas = {
        "none": lambda: F.relu(branch(x) + x),
        "standard": lambda: F.relu(se(branch(x)) + x),
        "pre": lambda: F.relu(branch(se(x)) + x),
        "post": lambda: se(F.relu(branch(x) + x)),
        "identity": lambda: F.relu(branch(x) + se(x)),
    }
    return formulas[block.design]()


@pytest.mark.parametrize("design", ["none", "standard", "pre", "post", "identity"])
def test_designs(design):
    """Task 8.3: each integration design computes its formula (slide "Attentions (6)")"""
    block = lab.SEResidualBlock(8, design, reduction=2)
    if (block.se is None) != (design == "none"):
        raise AssertionError(
            f"design {design!r}: self.se should be {'None' if design == 'none' else 'an SEBlock'}"
        )
    block.eval()
    x = sn.randn(2, 8, 4, 4)
    y = block(x)
    expect_shape(y, (2, 8, 4, 4), f"SEResidualBlock(8, {design!r}) output")
    expect_close(
        y,
        expected_output(block, x),
        f"SEResidualBlock(8, {design!r}) vs the design's formula",
        atol=1e-5,
    )
