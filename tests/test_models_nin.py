"""Network In Network: mlpconv blocks, the global-average-pooling head, parameter counts by hand."""

import numpy as np
import pytest
from helpers import count_params

import scratchnet
from scratchnet import models, nn


def mlpconv_params(c_in, widths, k):
    c1, c2, c3 = widths
    return (
        (k * k * c_in * c1 + c1) + (c1 * c2 + c2) + (c2 * c3 + c3)
    )  # conv, then two 1x1 convs (with biases)


def test_parameter_counts_by_hand():
    imagenet = (
        mlpconv_params(3, (96, 96, 96), 11)
        + mlpconv_params(96, (256, 256, 256), 5)
        + mlpconv_params(256, (384, 384, 384), 3)
        + mlpconv_params(384, (1024, 1024, 1000), 3)
    )
    assert imagenet == 7_595_176
    assert count_params(models.nin()) == imagenet
    cifar = (
        mlpconv_params(3, (192, 160, 96), 5)
        + mlpconv_params(96, (192, 192, 192), 5)
        + mlpconv_params(192, (192, 192, 10), 3)
    )
    assert cifar == 966_986
    assert count_params(models.nin_cifar()) == cifar


def test_mlpconv_is_a_conv_and_two_1x1_convs():
    block = models.MLPConv(3, (8, 6, 4), kernel_size=5, padding=2)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (1, 1), (1, 1)]
    y = block(scratchnet.randn(2, 3, 7, 7))
    assert y.shape == (2, 4, 7, 7)
    assert y.numpy().min() >= 0  # ReLU after the last 1x1 conv too


def test_no_fully_connected_layer_and_gap_head():
    model = models.nin_cifar()
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    model.eval()
    x = scratchnet.randn(2, 3, 8, 8)
    maps = model.features(x)  # (N, num_classes, h, w): one map per class
    assert maps.shape[:2] == (2, 10)
    np.testing.assert_allclose(
        model(x).numpy(), maps.numpy().mean(axis=(2, 3)), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(("name", "size", "classes"), [("nin_cifar", 8, 10), ("nin", 63, 1000)])
def test_forward_backward_at_smallest_size(name, size, classes):
    # 8x8: 8 -> 4 -> 2 with ceil-mode pools; 63x63: 14 -> 7 -> 3 -> 1 (Caffe's 224: 54 -> 27 -> 13
    # -> 6)
    model = getattr(models, name)()
    model.train()
    y = model(scratchnet.randn(2, 3, size, size))
    assert y.shape == (2, classes)
    y.backward(scratchnet.randn(*y.shape))
    assert all(p.grad is not None for p in model.parameters())


def test_dropout_between_blocks_only_in_training():
    model = models.nin_cifar()
    dropouts = [m for m in model.features if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 2 and all(
        m.p == 0.5 for m in dropouts
    )  # after all mlpconvs but the last
    assert isinstance(model.features[-1], models.MLPConv)
    x = scratchnet.randn(2, 3, 8, 8)
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    assert not np.array_equal(model(x).numpy(), model(x).numpy())
