"""Checks for lab 5. Run them from this folder with:  python -m scratchnet.labs check ."""

import inception_blocks as lab
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import digits
from scratchnet.labs.expect import expect_close, expect_equal, expect_shape
from scratchnet.nn import functional as F

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"5.1": 3, "5.2": 3, "5.3": 4, "5.4": 3, "5.5": 3, "5.6": 4}

# The paper's Table 1 (slide "GoogLeNet (6)"):
# input channels, the six widths, input size, "ops" in millions.
TABLE = {
    "3a": (192, (64, 96, 128, 16, 32, 32), 28, 128),
    "3b": (256, (128, 128, 192, 32, 96, 64), 28, 304),
    "4a": (480, (192, 96, 208, 16, 48, 64), 14, 73),
    "4b": (512, (160, 112, 224, 24, 64, 64), 14, 88),
    "4c": (512, (128, 128, 256, 24, 64, 64), 14, 100),
    "4d": (512, (112, 144, 288, 32, 64, 64), 14, 119),
    "4e": (528, (256, 160, 320, 32, 128, 128), 14, 170),
    # the table says 54M; its own widths give 51M (README)
    "5a": (832, (256, 160, 320, 32, 128, 128), 7, 51),
    "5b": (832, (384, 192, 384, 48, 128, 128), 7, 71),
}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_naive_module():
    """Task 5.1: the naive module concatenates 1x1, 3x3, 5x5 and the pooled input"""
    module = lab.InceptionNaive(5, 4, 6, 2)
    x = sn.randn(2, 5, 6, 6)
    y = module(x)
    expect_shape(y, (2, 4 + 6 + 2 + 5, 6, 6), "InceptionNaive(5, 4, 6, 2) on a (2, 5, 6, 6) batch")
    expect_close(
        y[:, 12:],
        F.max_pool2d(x, 3, 1, 1),
        "the last 5 channels (the pool branch: the input, max-pooled)",
    )
    expect_close(y[:, :4], module.branch1(x), "the first 4 channels (branch1, the 1x1 conv)")
    expect_equal(
        n_params(module),
        lab.naive_weights(5, 4, 6, 2) + 4 + 6 + 2,
        "parameters = naive_weights + biases",
    )


def test_reduced_module():
    """Task 5.2: the module with reductions:
    four branches in order, ch1x1 + ch3x3 + ch5x5 + pool_proj channels"""
    module = lab.Inception(6, 4, 3, 5, 2, 3, 2)
    x = sn.randn(2, 6, 5, 5)
    y = module(x)
    expect_shape(
        y, (2, 4 + 5 + 3 + 2, 5, 5), "Inception(6, 4, 3, 5, 2, 3, 2) on a (2, 6, 5, 5) batch"
    )
    for name, start, stop in [
        ("branch1", 0, 4),
        ("branch2", 4, 9),
        ("branch3", 9, 12),
        ("branch4", 12, 14),
    ]:
        expect_close(
            y[:, start:stop], getattr(module, name)(x), f"channels {start}:{stop} ({name})"
        )
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    expect_equal(
        sorted(c.kernel_size[0] for c in convs),
        [1, 1, 1, 1, 3, 5],
        "the kernel sizes of the six convs",
    )


def test_reduced_module_weights():
    """Task 5.3: inception_weights counts the module's weights
    (and inception (3a) has 163,328: the table's 159K)"""
    module = lab.Inception(6, 4, 3, 5, 2, 3, 2)
    weights = sum(p.numel() for name, p in module.named_parameters() if name.endswith("weight"))
    expect_equal(
        lab.inception_weights(6, 4, 3, 5, 2, 3, 2),
        weights,
        "inception_weights(6, 4, 3, 5, 2, 3, 2)",
    )
    expect_equal(
        lab.inception_weights(192, *TABLE["3a"][1]), 163_328, "inception_weights of inception (3a)"
    )


@pytest.mark.parametrize("name", list(TABLE))
def test_ops_column(name):
    """Task 5.3: macs(inception_weights(...)) reproduces the table's "ops" column (to 1M)"""
    in_channels, widths, size, ops = TABLE[name]
    got = lab.macs(lab.inception_weights(in_channels, *widths), size, size)
    if abs(got / 1e6 - ops) > 1:
        raise AssertionError(
            f"inception ({name}) multiply-adds: expected about {ops}M, got {got / 1e6:.1f}M"
        )


def test_reduction_saves():
    """Task 5.3: inception (3a) naive vs reduced:
    387,072 vs 163,328 weights, 303M vs 128M multiply-adds"""
    expect_equal(lab.naive_weights(192, 64, 128, 32), 387_072, "naive_weights(192, 64, 128, 32)")
    expect_equal(
        round(lab.macs(lab.naive_weights(192, 64, 128, 32), 28, 28) / 1e6),
        303,
        "naive (3a) MACs, millions",
    )


def test_aux_head():
    """Task 5.4: the auxiliary classifier maps any feature map to class scores
    (pool to 4x4, 1x1 conv to 128)"""
    head = lab.InceptionAux(32, 10, hidden=64)
    for size in (8, 14):
        expect_shape(
            head(sn.randn(2, 32, size, size)),
            (2, 10),
            f"InceptionAux(32, 10) on (2, 32, {size}, {size})",
        )
    expect_shape(head.fc1.weight, (64, 128 * 4 * 4), "fc1.weight (hidden, 128 * 4 * 4)")
    expect_equal(head.dropout.p, 0.7, "the auxiliary head's dropout probability")


def test_loss_combines_heads():
    """Task 5.5: googlenet_loss = CE(main) + 0.3 * CE(aux)
    for every auxiliary output; CE alone in eval"""
    rng = np.random.default_rng(0)
    main, aux1, aux2 = (sn.tensor(rng.standard_normal((4, 3))) for _ in range(3))
    target = sn.tensor(np.array([0, 2, 1, 2]))
    ce = [F.cross_entropy(t, target).item() for t in (main, aux1, aux2)]
    expect_close(
        lab.googlenet_loss((main, aux1, aux2), target).item(),
        ce[0] + 0.3 * (ce[1] + ce[2]),
        "googlenet_loss((main, aux1, aux2), target)",
    )
    expect_close(
        lab.googlenet_loss(main, target).item(), ce[0], "googlenet_loss(main, target) (eval mode)"
    )


def test_mini_googlenet_outputs():
    """Task 5.6: MiniGoogLeNet returns (logits, aux_logits) in training and logits alone in eval"""
    model = lab.MiniGoogLeNet()
    x = sn.randn(3, 1, 8, 8)
    outputs = model(x)
    if not isinstance(outputs, tuple) or len(outputs) != 2:
        raise AssertionError(
            f"in training mode expected a tuple (logits, aux_logits), got {type(outputs).__name__}"
        )
    expect_shape(outputs[0], (3, 10), "logits (training)")
    expect_shape(outputs[1], (3, 10), "aux_logits (training)")
    model.eval()
    logits = model(x)
    if isinstance(logits, tuple):
        raise AssertionError(
            "in eval mode the auxiliary head must not run: expected a Tensor, got a tuple"
        )
    expect_shape(logits, (3, 10), "logits (eval)")


def test_aux_gradient_reaches_the_stem():
    """Task 5.6: the stem's gradient is the main loss's plus
    0.3 times the auxiliary loss's (slide "GoogLeNet (7)")"""
    model = lab.MiniGoogLeNet()
    x, target = sn.randn(4, 1, 8, 8), sn.tensor(np.array([1, 3, 5, 7]))
    logits, aux = model(x)
    grads = []
    for loss in (
        F.cross_entropy(logits, target),
        F.cross_entropy(aux, target),
        lab.googlenet_loss((logits, aux), target),
    ):
        model.zero_grad()
        loss.backward(retain_graph=True)
        grads.append(model.stem[0].weight.grad.numpy().copy())
    expect_close(
        grads[2], grads[0] + 0.3 * grads[1], "stem weight gradient of googlenet_loss", atol=1e-6
    )
    if np.abs(grads[1]).max() == 0:
        raise AssertionError(
            "the auxiliary loss sends no gradient to the stem: is the head on inception_a's output?"
        )


def test_mini_googlenet_learns_digits():
    """Task 5.6: MiniGoogLeNet trained with googlenet_loss
    starts fitting 8 digits (20 Adam steps)"""
    sn.manual_seed(0)
    images, labels = digits("train").arrays
    images, labels = sn.tensor(images[:8]), sn.tensor(labels[:8])
    model = lab.MiniGoogLeNet()
    optimizer = optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(20):
        loss = lab.googlenet_loss(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    if not last < 0.95 * first:
        raise AssertionError(
            f"the training loss did not fall: first 5 steps {first:.3f}, last 5 steps {last:.3f}"
        )
