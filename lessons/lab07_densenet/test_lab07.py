"""Checks for lab 7. Run them from this folder with:  python -m scratchnet.labs check ."""

import dense_blocks as lab
import numpy as np

import scratchnet as sn
from scratchnet import nn
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.nn import functional as F

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"7.1": 4, "7.2": 5, "7.3": 3, "7.4": 4, "7.5": 4}


def test_dense_layer():
    """Task 7.1: a dense layer is BN-ReLU-conv1x1
    (4k maps)-BN-ReLU-conv3x3 and outputs k new maps"""
    layer = lab.DenseLayer(10, growth_rate=4)
    expect_shape(
        layer(sn.randn(2, 10, 5, 5)), (2, 4, 5, 5), "DenseLayer(10, growth_rate=4) on (2, 10, 5, 5)"
    )
    expect_shape(
        layer.conv1.weight, (16, 10, 1, 1), "conv1.weight (bn_size * k, in_channels, 1, 1)"
    )
    expect_shape(layer.conv2.weight, (4, 16, 3, 3), "conv2.weight (k, bn_size * k, 3, 3)")
    if layer.conv1.bias is not None or layer.conv2.bias is not None:
        raise AssertionError(
            "the dense layer's convolutions have no bias (the batch norm after them has one)"
        )
    layer.eval()
    x = sn.randn(2, 10, 5, 5)
    expected = layer.conv2(F.relu(layer.norm2(layer.conv1(F.relu(layer.norm1(x))))))
    expect_close(
        layer(x),
        expected,
        "DenseLayer output vs BN-ReLU-conv1-BN-ReLU-conv2 (eval mode)",
        atol=1e-5,
    )


def test_dense_block_channels():
    """Task 7.2: layer i of a dense block sees in_channels
    + i * k channels; the block outputs in + L * k"""
    block = lab.DenseBlock(3, in_channels=6, growth_rate=4)
    expect_equal(
        [layer.conv1.in_channels for layer in block.layers],
        [6, 10, 14],
        "input channels of the 3 layers",
    )
    expect_equal(block.out_channels, 18, "DenseBlock(3, 6, 4).out_channels")
    expect_shape(
        block(sn.randn(2, 6, 4, 4)),
        (2, 18, 4, 4),
        "DenseBlock(3, in_channels=6, growth_rate=4) output",
    )


def test_dense_block_keeps_its_input():
    """Task 7.2: concatenation, not addition:
    the block's first in_channels output channels are x itself"""
    block = lab.DenseBlock(2, in_channels=5, growth_rate=3)
    x = sn.randn(2, 5, 4, 4)
    y = block(x)
    expect_close(y[:, :5], x, "the first 5 channels of the dense block's output (x_0, unchanged)")
    expect_close(
        y[:, 5:8], block.layers[0](x), "channels 5:8 (the first layer's new maps)", atol=1e-5
    )


def test_dense_block_gradcheck():
    """Task 7.2: the gradient through a small dense block (eval mode) passes gradcheck"""
    block = lab.DenseBlock(2, in_channels=2, growth_rate=2, bn_size=1).double()
    block.eval()
    x = sn.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 3)), requires_grad=True)
    expect_gradcheck(block, [x], "DenseBlock(2, 2, 2) backward", names=("x",))


def test_transition():
    """Task 7.3: the transition is BN-ReLU-conv1x1-avgpool(2): fewer channels, half the size"""
    transition = lab.Transition(8, 4)
    expect_equal(
        [name for name, _ in transition.named_children()],
        ["norm", "relu", "conv", "pool"],
        "the transition's layer names",
    )
    expect_shape(transition(sn.randn(2, 8, 6, 6)), (2, 4, 3, 3), "Transition(8, 4) on (2, 8, 6, 6)")
    expect_shape(transition.conv.weight, (4, 8, 1, 1), "transition.conv.weight")


def test_channel_arithmetic():
    """Task 7.4: densenet_channels reproduces the channels of DenseNet-121 and -169"""
    expected = [(64, 256, 128), (128, 512, 256), (256, 1024, 512), (512, 1024, None)]
    expect_equal(
        lab.densenet_channels((6, 12, 24, 16)), expected, "densenet_channels((6, 12, 24, 16))"
    )
    expect_equal(
        lab.densenet_channels((6, 12, 32, 32))[-1], (640, 1664, None), "DenseNet-169's last block"
    )
    expect_equal(
        lab.densenet_channels((2, 2), growth_rate=4, num_init_features=8),
        [(8, 16, 8), (8, 16, None)],
        "densenet_channels((2, 2), growth_rate=4, num_init_features=8)",
    )


def test_densenet121_parameters():
    """Task 7.5: DenseNet((6, 12, 24, 16)) has
    torchvision's 7,978,856 parameters (ResNet-50: 25.6M)"""
    model = lab.DenseNet((6, 12, 24, 16))
    expect_equal(
        sum(p.numel() for p in model.parameters()), 7_978_856, "parameters of DenseNet-121"
    )
    expect_equal(
        sum(isinstance(m, lab.DenseLayer) for m in model.modules()),
        58,
        "dense layers in DenseNet-121",
    )


def test_small_densenet_runs():
    """Task 7.5: a small DenseNet runs end to end: (N, 3, 32, 32) -> (N, classes)"""
    model = lab.DenseNet((2, 2), growth_rate=4, num_init_features=8, num_classes=5)
    names = [name for name, _ in model.features.named_children()]
    expect_equal(
        names,
        ["conv0", "norm0", "relu0", "pool0", "denseblock1", "transition1", "denseblock2", "norm5"],
        "the layers of model.features",
    )
    expect_shape(
        model(sn.randn(2, 3, 32, 32)),
        (2, 5),
        "DenseNet((2, 2), 4, 8, num_classes=5) on (2, 3, 32, 32)",
    )
    expect_equal(
        model.classifier.in_features,
        16,
        "classifier.in_features (the last block's output channels)",
    )
    if not isinstance(model.features.norm5, nn.BatchNorm2d):
        raise AssertionError("features.norm5 should be the final BatchNorm2d")
