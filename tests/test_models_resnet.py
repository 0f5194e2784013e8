"""ResNet, plain nets, CIFAR ResNets, pre-activation ResNets and the five residual-unit variants."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import count_params, params_without_grad

import scratchnet as sn
from scratchnet import nn
from scratchnet.models import preact_resnet, resnet, resnet_cifar
from scratchnet.models.resnet import RESIDUAL_VARIANTS, BasicBlock, Bottleneck, ZeroPadShortcut


def projection_params(model) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if ".downsample." in name)


# ------------------------------------------------------------------------------ parameter counts


# torchvision's figures (torchvision.models.resnetXX(): sum of p.numel()).
@pytest.mark.parametrize(
    "name, expected",
    [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        pytest.param("resnet101", 44_549_160, marks=pytest.mark.slow),
        pytest.param("resnet152", 60_192_808, marks=pytest.mark.slow),
    ],
)
def test_imagenet_parameter_counts(name, expected):
    model = getattr(resnet, name)()
    assert count_params(model) == expected
    # The plain net has the same layers minus the projection shortcuts.
    plain = getattr(resnet, name.replace("resnet", "plain"))()
    assert count_params(plain) == expected - projection_params(model)
    assert projection_params(plain) == 0


def cifar_count(n: int) -> int:
    """Parameters of a 6n+2 CIFAR ResNet with option A shortcuts, from the paper's description."""
    total = 3 * 16 * 9 + 2 * 16  # stem conv + BN
    for c_in, c in [(16, 16), (16, 32), (32, 64)]:
        total += 9 * c_in * c + 9 * c * c + 4 * c  # first block: two convs, two BNs
        total += (n - 1) * (18 * c * c + 4 * c)
    return total + 64 * 10 + 10  # fc


@pytest.mark.parametrize(
    "depth, expected",
    [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962)],
)
def test_cifar_parameter_counts(depth, expected):
    assert cifar_count((depth - 2) // 6) == expected
    assert count_params(getattr(resnet_cifar, f"resnet{depth}")()) == expected
    assert (
        count_params(getattr(resnet_cifar, f"plain{depth}")()) == expected
    )  # option A adds no parameters


def test_cifar_option_b_adds_projections():
    model = resnet_cifar.resnet56(shortcut="B")
    assert count_params(model) == 855_770
    assert count_params(model) - projection_params(model) == 853_018


def test_preact_cifar_bottleneck_counts():
    # He et al. 2016, Table 3: ResNet-164 1.7M parameters.
    assert count_params(preact_resnet.preact_resnet164()) == 1_703_258


@pytest.mark.slow
def test_preact_resnet1001_count():
    assert count_params(preact_resnet.preact_resnet1001()) == 10_327_706  # the paper: 10.2M


def test_preact_imagenet_count():
    # Pre-activation moves BN: the stem BN (64 channels) goes, a final BN (512) arrives, each
    # first-of-stage BN1 normalises the block input, projections lose their BN.
    model = preact_resnet.preact_resnet18()
    assert count_params(model) == 11_687_720
    assert "bn1.weight" not in model.state_dict() and "bn_final.weight" in model.state_dict()


# ------------------------------------------------------------------------------ forward and
# backward

# Each block type and layout runs in the quick suite; the deeper nets of the same families are slow.
IMAGENET = ["resnet18", "resnet50", "plain18", "preact_resnet18", "preact_resnet50"]
IMAGENET_SLOW = [
    "resnet34",
    "resnet101",
    "resnet152",
    "plain34",
    "plain50",
    "plain101",
    "plain152",
    "preact_resnet34",
    "preact_resnet101",
    "preact_resnet152",
]
CIFAR = ["resnet20", "plain20", "preact_resnet20", "preact_resnet164"]
CIFAR_SLOW = [
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "preact_resnet56",
    "preact_resnet110",
    "preact_resnet1001",
]


def constructor(name):
    for module in (resnet, resnet_cifar, preact_resnet):
        if name in module.__all__:
            return getattr(module, name)
    raise KeyError(name)


def forward_backward(model, size: int, num_classes: int) -> None:
    """Batch of 2 (BatchNorm in training needs more than one value per channel)."""
    x = sn.randn(2, 3, size, size, requires_grad=True)
    y = model(x)
    assert y.shape == (2, num_classes)
    y.backward(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    missing = params_without_grad(model)
    assert not missing, f"no gradient for {missing[:5]}"


@pytest.mark.parametrize(
    "name", IMAGENET + [pytest.param(n, marks=pytest.mark.slow) for n in IMAGENET_SLOW]
)
def test_imagenet_forward_backward(name):
    # 16x16 is enough: every stride-2 step rounds up to at least one pixel. The 101/152-layer nets
    # get 64x64: with 1x1 maps BatchNorm normalises 2 values per channel, and its backward, which
    # divides by their spread, overflows float32 through 30 such layers (as it would in PyTorch).
    size = 64 if name.endswith(("101", "152")) else 16
    forward_backward(constructor(name)(num_classes=7), size, 7)


@pytest.mark.parametrize(
    "name", CIFAR + [pytest.param(n, marks=pytest.mark.slow) for n in CIFAR_SLOW]
)
def test_cifar_forward_backward(name):
    forward_backward(constructor(name)(), 8, 10)


def test_output_shapes_at_224_layout():
    # The table of slide "ResNet (3)": 112, 56, 28, 14, 7 for a 224 image (here 64: 32, 16, 8, 4,
    # 2).
    model = resnet.resnet50().eval()
    shapes = {}
    for name in ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"]:
        model.get_submodule(name).register_forward_hook(
            lambda m, a, out, name=name: shapes.__setitem__(name, out.shape)
        )
    with sn.no_grad():
        model(sn.randn(1, 3, 64, 64))
    assert shapes == {
        "conv1": (1, 64, 32, 32),
        "maxpool": (1, 64, 16, 16),
        "layer1": (1, 256, 16, 16),
        "layer2": (1, 512, 8, 8),
        "layer3": (1, 1024, 4, 4),
        "layer4": (1, 2048, 2, 2),
    }


def test_stride_in_1x1_moves_the_stride():
    v15, v1 = resnet.resnet50(), resnet.resnet50(stride_in_1x1=True)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v1.state_dict().keys() == v15.state_dict().keys()
    with pytest.raises(ValueError, match="Bottleneck"):
        resnet.resnet18(stride_in_1x1=True)


def test_train_and_eval_modes():
    model = resnet_cifar.resnet20()
    x = sn.randn(2, 3, 8, 8)
    before = model.bn1.running_mean.numpy().copy()
    model.train()
    y_train = model(x)
    assert not np.allclose(model.bn1.running_mean.numpy(), before)  # running statistics moved
    model.eval()
    after = model.bn1.running_mean.numpy().copy()
    with sn.no_grad():
        y1, y2 = model(x), model(x)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())  # eval: deterministic, stats frozen
    np.testing.assert_array_equal(model.bn1.running_mean.numpy(), after)
    assert not np.allclose(y1.numpy(), y_train.numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        resnet.resnet18(variant="nope")
    with pytest.raises(ValueError, match="shortcut"):
        resnet.resnet18(shortcut="C")
    with pytest.raises(ValueError, match="6n"):
        resnet_cifar.cifar_resnet(21)


# ------------------------------------------------------------------------------ the blocks, against
# their definitions


def reference_block(block, x):
    """The five units of He et al. 2016, Fig. 4, written out independent of the code."""
    relu = sn.relu
    convs = [block.conv1, block.conv2] + ([block.conv3] if isinstance(block, Bottleneck) else [])
    bns = [block.bn1, block.bn2] + ([block.bn3] if isinstance(block, Bottleneck) else [])
    v, out = block.variant, x
    if v in ("full_preact", "relu_preact"):
        if v == "full_preact":  # (e) BN-ReLU-conv, BN-ReLU-conv, ...
            pre = relu(bns[0](x))
            out = convs[0](pre)
            for conv, bn in zip(convs[1:], bns[1:], strict=True):
                out = conv(relu(bn(out)))
        else:  # (d) ReLU-conv-BN, ReLU-conv-BN, ...
            pre = relu(x)
            out = bns[0](convs[0](pre))
            for conv, bn in zip(convs[1:], bns[1:], strict=True):
                out = bn(conv(relu(out)))
        shortcut = x if block.downsample is None else block.downsample(pre)
        return out + shortcut
    shortcut = x if block.downsample is None else block.downsample(x)
    for i, (conv, bn) in enumerate(zip(convs, bns, strict=True)):
        last = i == len(convs) - 1
        out = conv(out)
        if last and v == "bn_after_add":
            return relu(bn(out + shortcut))  # (b)
        out = bn(out)
        if not last:
            out = relu(out)
    if v == "relu_before_add":  # (c)
        return relu(out) + shortcut
    return relu(out + shortcut)  # (a)


@pytest.mark.parametrize("variant", RESIDUAL_VARIANTS)
@pytest.mark.parametrize("block_type", [BasicBlock, Bottleneck])
@pytest.mark.parametrize("projection", [False, True])
def test_block_variants_match_their_definition(variant, block_type, projection):
    in_channels, channels = (8, 4) if projection else (4 * block_type.expansion, 4)
    out_channels = channels * block_type.expansion
    downsample = None
    if projection:
        layers = [nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)]
        downsample = nn.Sequential(
            *layers, *([] if variant == "full_preact" else [nn.BatchNorm2d(out_channels)])
        )
    block = block_type(
        in_channels, channels, 2 if projection else 1, downsample, variant=variant
    ).eval()
    for bn in [
        m for m in block.modules() if isinstance(m, nn.BatchNorm2d)
    ]:  # non-trivial statistics
        bn.running_mean.array[...] = np.random.default_rng(1).standard_normal(bn.num_features) * 0.1
        bn.running_var.array[...] = np.random.default_rng(2).uniform(0.5, 1.5, bn.num_features)
    x = sn.randn(2, in_channels, 6, 6)
    with sn.no_grad():
        np.testing.assert_allclose(
            block(x).numpy(), reference_block(block, x).numpy(), rtol=1e-5, atol=1e-5
        )


def test_plain_block_has_no_shortcut():
    block = BasicBlock(4, 4, residual=False).eval()
    x = sn.randn(1, 4, 5, 5)
    with sn.no_grad():
        expected = sn.relu(block.bn2(block.conv2(sn.relu(block.bn1(block.conv1(x))))))
        np.testing.assert_allclose(block(x).numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="no shortcut"):
        BasicBlock(4, 8, 2, nn.Identity(), residual=False)


def test_full_preact_keeps_a_clean_identity_path():
    # With identity shortcuts, x_{l+1} - x_l = F(x_l): nothing follows the addition.
    block = BasicBlock(4, 4, variant="full_preact").eval()
    nn.init.constant_(block.conv2.weight, 0)  # F(x) = 0: the unit is exactly the identity
    x = sn.randn(2, 4, 5, 5)
    with sn.no_grad():
        np.testing.assert_array_equal(block(x).numpy(), x.numpy())


def test_zero_pad_shortcut():
    x = sn.randn(2, 3, 6, 6)
    y = ZeroPadShortcut(extra_channels=5, stride=2)(x)
    assert y.shape == (2, 8, 3, 3)
    np.testing.assert_array_equal(y.numpy()[:, :3], x.numpy()[:, :, ::2, ::2])
    assert not y.numpy()[:, 3:].any()


@pytest.mark.parametrize("variant", ["original", "full_preact"])
def test_block_gradcheck(variant):
    block = (
        Bottleneck(
            8,
            2,
            stride=2,
            downsample=nn.Sequential(nn.Conv2d(8, 8, 1, stride=2, bias=False)),
            variant=variant,
        )
        .double()
        .eval()
    )
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 8, 5, 5)), requires_grad=True)
    assert sn.gradcheck(block, [x])


# ------------------------------------------------------------------------------ torchvision layout


@pytest.mark.parametrize(
    "name", ["resnet18", "resnet50", pytest.param("resnet152", marks=pytest.mark.slow)]
)
def test_state_dict_matches_torchvision(name):
    torchvision = pytest.importorskip(
        "torchvision", reason="torchvision is not installed: layout check skipped"
    )
    theirs = getattr(torchvision.models, name)().state_dict()
    ours = getattr(resnet, name)().state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in theirs)
    assert ours["layer1.0.bn1.num_batches_tracked"].dtype == np.int64


def test_initialisation_follows_torchvision():
    model = resnet.resnet18()
    w = model.layer3[0].conv1.weight.numpy()  # 256 x 128 x 3 x 3, He-normal with fan_out = 256*9
    assert abs(w.std() - np.sqrt(2 / (256 * 9))) < 0.02 * np.sqrt(2 / (256 * 9))
    assert (model.layer3[0].bn1.weight.numpy() == 1).all() and (
        model.layer3[0].bn1.bias.numpy() == 0
    ).all()


def test_each_unit_is_a_class_of_its_own_built_by_name():
    # Unit (a) is BasicBlock / Bottleneck itself; (b)-(e) are their subclasses in preact_resnet.py,
    # and BasicBlock(..., variant=name) builds the one of that name (PyTorch code keeps working).
    from scratchnet.models.preact_resnet import RESIDUAL_UNITS, PreActBottleneck, residual_unit

    assert tuple(RESIDUAL_UNITS) == RESIDUAL_VARIANTS
    for variant, (basic, bottleneck) in RESIDUAL_UNITS.items():
        assert type(BasicBlock(4, 4, variant=variant)) is basic
        assert (
            type(Bottleneck(16, 4, 1, None, variant)) is bottleneck
        )  # positional, as SE passes it
        assert issubclass(basic, BasicBlock) and issubclass(bottleneck, Bottleneck)
        assert basic.variant == bottleneck.variant == variant
        assert residual_unit(Bottleneck, variant) is bottleneck
    assert isinstance(resnet.resnet50(variant="full_preact").layer1[0], PreActBottleneck)
    with pytest.raises(ValueError, match="variant must be one of"):
        BasicBlock(4, 4, variant="post_add")
