"""Squeeze-and-Excitation: the block, the four integration designs, SE-ResNets, SE-Inception."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import count_params

import scratchnet as sn
from scratchnet import nn
from scratchnet.models import resnet, senet
from scratchnet.models.senet import SE_DESIGNS, SEBasicBlock, SEBlock, SEBottleneck, SEInception


def test_se_block_computes_squeeze_excitation_scale():
    se = SEBlock(8, reduction=4)
    u = sn.randn(2, 8, 5, 5)
    with sn.no_grad():
        y = se(u).numpy()
    z = u.numpy().mean(axis=(2, 3))  # squeeze: (2, 8)
    hidden = np.maximum(z @ se.fc1.weight.numpy().T + se.fc1.bias.numpy(), 0)  # (2, 2)
    s = 1 / (1 + np.exp(-(hidden @ se.fc2.weight.numpy().T + se.fc2.bias.numpy())))  # (2, 8)
    np.testing.assert_allclose(y, u.numpy() * s[:, :, None, None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(se.last_excitation, s, rtol=1e-5)
    assert se.fc1.weight.shape == (2, 8) and se.fc2.weight.shape == (8, 2)


def test_se_block_cost_and_gradient():
    # 2 C^2 / r weights plus C / r + C biases.
    assert count_params(SEBlock(256, 16)) == 2 * 256 * 256 // 16 + 16 + 256
    se = SEBlock(6, reduction=2).double()
    u = sn.tensor(np.random.default_rng(0).standard_normal((2, 6, 3, 3)), requires_grad=True)
    assert sn.gradcheck(se, [u])


def test_excitations_can_be_hooked():
    model = senet.se_resnet18(num_classes=5).eval()
    seen = []
    model.layer4[1].se.sigmoid.register_forward_hook(lambda m, args, out: seen.append(out.numpy()))
    with sn.no_grad():
        model(sn.randn(3, 3, 16, 16))
    assert seen[0].shape == (3, 512) and ((seen[0] > 0) & (seen[0] < 1)).all()
    np.testing.assert_array_equal(model.layer4[1].se.last_excitation, seen[0])


def test_se_resnet50_parameters_for_each_reduction():
    # ResNet-50 plus, in each of its 16 bottlenecks of C output channels, 2 C^2 / r + C / r + C.
    stages = [(256, 3), (512, 4), (1024, 6), (2048, 3)]
    expected = {
        r: 25_557_032 + sum(n * (2 * C * (C // r) + C // r + C) for C, n in stages)
        for r in (2, 4, 8, 16, 32)
    }
    assert expected == {2: 45_699_240, 4: 35_635_688, 8: 30_603_912, 16: 28_088_024, 32: 26_830_080}
    # The lecture's table (45.7M, 35.7M, 30.7M, 28.1M, 26.9M) agrees within 0.1M; see senet.py.
    for r in (2, 16):
        assert count_params(senet.se_resnet50(reduction=r)) == expected[r]


def test_design_changes_only_where_se_sits():
    base = count_params(resnet.resnet50())
    pre = count_params(senet.se_resnet50(design="pre"))  # SE on each block's input channels
    assert (
        count_params(senet.se_resnet50(design="post"))
        == count_params(senet.se_resnet50(design="identity"))
        == 28_088_024
    )
    assert base < pre < 28_088_024


def run_unit(block, x, design):
    """The four designs of slide "Attentions (6)", written out."""
    convs = [block.conv1, block.conv2] + ([block.conv3] if isinstance(block, SEBottleneck) else [])
    bns = [block.bn1, block.bn2] + ([block.bn3] if isinstance(block, SEBottleneck) else [])
    identity = x if block.downsample is None else block.downsample(x)
    out = block.se(x) if design == "pre" else x
    for i, (conv, bn) in enumerate(zip(convs, bns, strict=True)):
        out = bn(conv(out))
        if i < len(convs) - 1:
            out = sn.relu(out)
    if design == "standard":
        out = block.se(out)
    if design == "identity":
        identity = block.se(identity)
    out = sn.relu(out + identity)
    return block.se(out) if design == "post" else out


@pytest.mark.parametrize("design", SE_DESIGNS)
@pytest.mark.parametrize("block_type", [SEBasicBlock, SEBottleneck])
def test_designs_match_the_figure(design, block_type):
    downsample = nn.Sequential(
        nn.Conv2d(8, 4 * block_type.expansion, 1, stride=2, bias=False),
        nn.BatchNorm2d(4 * block_type.expansion),
    )
    block = block_type(8, 4, 2, downsample, reduction=2, design=design).eval()
    x = sn.randn(2, 8, 6, 6)
    with sn.no_grad():
        np.testing.assert_allclose(
            block(x).numpy(), run_unit(block, x, design).numpy(), rtol=1e-5, atol=1e-6
        )
    assert block.se.fc2.out_features == (8 if design == "pre" else 4 * block_type.expansion)


SLOW = [
    pytest.param(name, marks=pytest.mark.slow)
    for name in ["se_resnet34", "se_resnet101", "se_resnet152"]
]


@pytest.mark.parametrize("name", ["se_resnet18", "se_resnet50", *SLOW])
def test_forward_backward(name):
    model = getattr(senet, name)(num_classes=4)
    size = 64 if name.endswith(("101", "152")) else 16  # see test_models_resnet: BN on 1x1 maps
    x = sn.randn(2, 3, size, size, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 4)
    y.backward(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    assert np.isfinite(x.grad.numpy()).all() and all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("design", ["pre", "post", "identity"])
def test_other_designs_give_the_network_written_out(design):
    # The whole SE-ResNet-18, run by hand: the stem, every unit as the figure draws it
    # (run_unit), the head. Non-trivial BN statistics, so that no layer is an identity.
    model = senet.se_resnet18(num_classes=3, design=design).eval()
    rng = np.random.default_rng(0)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.array[...] = rng.standard_normal(bn.num_features) * 0.1
        bn.running_var.array[...] = rng.uniform(0.5, 1.5, bn.num_features)
    x = sn.randn(2, 3, 16, 16)
    with sn.no_grad():
        out = model.maxpool(sn.relu(model.bn1(model.conv1(x))))
        for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
            for block in stage:
                out = run_unit(block, out, design)
        expected = model.fc(out.mean(axis=(2, 3)))  # global average pooling, then the classifier
        np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert {block.design for block in model.modules() if isinstance(block, SEBasicBlock)} == {
        design
    }


def test_se_inception():
    googlenet = pytest.importorskip("scratchnet.models.googlenet")
    module = googlenet.Inception(16, 4, 4, 8, 2, 4, 4)  # 4 + 8 + 4 + 4 = 20 output channels
    block = SEInception(module, 20, reduction=4).eval()
    x = sn.randn(2, 16, 5, 5)
    with sn.no_grad():
        y = block(x)
        np.testing.assert_allclose(y.numpy(), block.se(module(x)).numpy(), rtol=1e-6)
    assert y.shape == (2, 20, 5, 5) and block.se.last_excitation.shape == (2, 20)


def test_bad_design():
    with pytest.raises(ValueError, match="design"):
        senet.se_resnet18(design="middle")
