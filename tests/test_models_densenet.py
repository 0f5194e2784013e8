"""DenseNet-BC: parameter counts, dense connectivity, forward/backward, torchvision layout."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import count_params

import scratchnet as sn
from scratchnet.models import densenet
from scratchnet.models.densenet import DenseBlock, Transition


@pytest.mark.parametrize(
    "name, expected",
    [
        ("densenet121", 7_978_856),  # torchvision
        pytest.param("densenet161", 28_681_000, marks=pytest.mark.slow),  # torchvision
        pytest.param("densenet169", 14_149_480, marks=pytest.mark.slow),  # torchvision
        pytest.param("densenet201", 20_013_928, marks=pytest.mark.slow),  # torchvision
        pytest.param(
            "densenet264", 33_337_704, marks=pytest.mark.slow
        ),  # the paper's Table 1 layout
        ("densenet_bc_100", 769_162),  # the paper's Table 2: 0.8M
    ],
)
def test_parameter_counts(name, expected):
    assert count_params(getattr(densenet, name)()) == expected


def test_channel_bookkeeping_of_densenet121():
    # Slide "DenseNet (2)": 64 + 6*32 = 256 -> 128; 128 + 12*32 = 512 -> 256; 256 + 24*32 = 1024 ->
    # 512; 512 + 16*32 = 1024 channels into the classifier.
    model = densenet.densenet121()
    assert [
        model.features.get_submodule(f"transition{i}").conv.weight.shape[:2] for i in (1, 2, 3)
    ] == [(128, 256), (256, 512), (512, 1024)]
    assert model.features.norm5.num_features == 1024 and model.classifier.in_features == 1024
    bottleneck = model.features.denseblock3.denselayer24
    assert bottleneck.conv1.weight.shape == (
        128,
        256 + 23 * 32,
        1,
        1,
    )  # 4k = 128 maps from all earlier ones
    assert bottleneck.conv2.weight.shape == (32, 128, 3, 3)  # k = 32 new maps


def test_dense_block_concatenates_every_layer():
    block = DenseBlock(num_layers=3, in_channels=5, growth_rate=4, bn_size=2, drop_rate=0.0).eval()
    x = sn.randn(2, 5, 6, 6)
    with sn.no_grad():
        y = block(x)
        assert y.shape == (2, 5 + 3 * 4, 6, 6)
        np.testing.assert_array_equal(y.numpy()[:, :5], x.numpy())  # x_0 passes unchanged
        first = block.denselayer1(x)
        np.testing.assert_allclose(y.numpy()[:, 5:9], first.numpy(), rtol=1e-6)
        second = block.denselayer2(sn.cat([x, first], 1))  # layer 2 sees [x_0, x_1]
        np.testing.assert_allclose(y.numpy()[:, 9:13], second.numpy(), rtol=1e-5, atol=1e-6)


def test_transition_halves_size():
    assert Transition(8, 4)(sn.randn(2, 8, 6, 6)).shape == (2, 4, 3, 3)


@pytest.mark.parametrize(
    "name, size",
    [
        (
            "densenet121",
            32,
        ),  # 32 is the smallest: 16, 8 after the stem, 4, 2, 1 after the transitions
        ("densenet_bc_100", 8),
        pytest.param("densenet161", 32, marks=pytest.mark.slow),
        pytest.param("densenet169", 32, marks=pytest.mark.slow),
        pytest.param("densenet201", 32, marks=pytest.mark.slow),
        pytest.param("densenet264", 32, marks=pytest.mark.slow),
    ],
)
def test_forward_backward(name, size):
    model = getattr(densenet, name)(num_classes=6)
    x = sn.randn(2, 3, size, size, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 6)
    y.backward(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    assert np.isfinite(x.grad.numpy()).all()
    assert all(p.grad is not None for p in model.parameters())


def test_dropout_only_in_training():
    model = densenet.densenet_cifar(depth=10, growth_rate=4, drop_rate=0.5)
    x = sn.randn(2, 3, 8, 8)
    model.eval()
    with sn.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    with sn.no_grad():
        assert not np.allclose(model(x).numpy(), model(x).numpy())


def test_bad_depth():
    with pytest.raises(ValueError, match="6n"):
        densenet.densenet_cifar(depth=101)


@pytest.mark.parametrize(
    "name", ["densenet121", pytest.param("densenet161", marks=pytest.mark.slow)]
)
def test_state_dict_matches_torchvision(name):
    torchvision = pytest.importorskip(
        "torchvision", reason="torchvision is not installed: layout check skipped"
    )
    theirs = getattr(torchvision.models, name)().state_dict()
    ours = getattr(densenet, name)().state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in theirs)
