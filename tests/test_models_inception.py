"""Inception-v3 (against torchvision), Inception-v4 and Inception-ResNet-v1/v2 (against the paper's
Table 1 and the released models' published parameter counts).

Every network runs forward and backward at 75x75, the smallest input all four accept
(v3's auxiliary head needs 299x299, tested on its own and, marked slow, in the full network).
Training mode uses batch 2: at 75x75 the last grid is 1x1, and BatchNorm needs two values per
channel.
"""

import numpy as np
import pytest
from helpers import assert_close, count_params, params_without_grad, randomize_

import scratchnet
import scratchnet.io
from scratchnet import models, nn
from scratchnet.io import load_torch_state_dict


def dropout_rates(model):
    return [m.p for m in model.modules() if isinstance(m, nn.Dropout)]


def basic_conv(c_in, c_out, kh, kw=None):
    return (
        kh * (kh if kw is None else kw) * c_in * c_out + 2 * c_out
    )  # conv without bias + BN's gamma, beta


def forward_backward(model, size=75, classes=1000):
    model.train()
    y = model(scratchnet.randn(2, 3, size, size))
    assert isinstance(y, scratchnet.Tensor) and y.shape == (2, classes)
    y.backward(scratchnet.randn(*y.shape))
    missing = params_without_grad(model)
    assert not missing
    return y


def torchvision_or_skip():
    torch = pytest.importorskip("torch", reason="torch is not installed: no torchvision comparison")
    tvm = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    return torch, tvm


# --- Inception-v3
# -----------------------------------------------------------------------------------


def test_v3_parameter_counts():
    assert count_params(models.inception_v3()) == 27_161_264  # torchvision's figure
    assert count_params(models.inception_v3(aux_logits=False)) == 23_834_568
    aux = basic_conv(768, 128, 1) + basic_conv(128, 768, 5) + 768 * 1000 + 1000
    assert 27_161_264 - 23_834_568 == aux


def test_v3_factorised_modules():
    # InceptionC: the 7x7s as 1x7 then 7x1; InceptionE: 1x3 and 3x1 side by side
    c = models.InceptionC(768, channels_7x7=128)
    assert (c.branch7x7_2.conv.kernel_size, c.branch7x7_3.conv.kernel_size) == ((1, 7), (7, 1))
    e = models.InceptionE(1280)
    assert e(scratchnet.randn(1, 1280, 2, 2)).shape == (1, 2048, 2, 2)
    # the grid reductions: stride-2 convs and a stride-2 pool side by side, 35 -> 17 and 17 -> 8
    assert models.InceptionB(288)(scratchnet.randn(1, 288, 7, 7)).shape == (1, 768, 3, 3)
    assert models.InceptionD(768)(scratchnet.randn(1, 768, 7, 7)).shape == (1, 1280, 3, 3)


def test_v3_forward_backward_without_aux():
    forward_backward(models.inception_v3(num_classes=10, aux_logits=False), classes=10)


def test_v3_aux_head_only_in_training():
    model = models.inception_v3(num_classes=10)
    model.eval()
    y = model(
        scratchnet.randn(1, 3, 75, 75)
    )  # the head would fail at this size: it is not evaluated
    assert isinstance(y, scratchnet.Tensor) and y.shape == (1, 10)


def test_v3_aux_head_backward():
    head = models.InceptionV3Aux(768, num_classes=10)
    head.train()
    x = scratchnet.randn(2, 768, 17, 17, requires_grad=True)  # Mixed_6e's output at 299x299
    y = head(x)
    assert y.shape == (2, 10)
    y.backward(scratchnet.randn(2, 10))
    assert x.grad is not None and all(p.grad is not None for p in head.parameters())


@pytest.mark.slow
def test_v3_training_returns_aux_logits_at_299():
    model = models.inception_v3(num_classes=10)
    model.train()
    out = model(scratchnet.randn(2, 3, 299, 299))
    assert isinstance(out, models.InceptionOutputs)
    assert out.logits.shape == out.aux_logits.shape == (2, 10)


def test_v3_state_dict_matches_torchvision():
    torch, tvm = torchvision_or_skip()
    for aux_logits in (True, False):
        with torch.device("meta"):
            reference = tvm.inception_v3(aux_logits=aux_logits, init_weights=False)
        theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
        mine = {
            k: tuple(v.shape)
            for k, v in models.inception_v3(aux_logits=aux_logits).state_dict().items()
        }
        assert list(mine) == list(theirs)
        assert mine == theirs


def test_v3_eval_outputs_match_torchvision():
    torch, tvm = torchvision_or_skip()
    reference = randomize_(tvm.inception_v3(init_weights=False, transform_input=True), torch).eval()
    ours = models.inception_v3(init_weights=False, transform_input=True).eval()
    load_torch_state_dict(ours, reference.state_dict())
    x = np.random.randn(1, 3, 75, 75).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    assert_close(ours(scratchnet.tensor(x)).numpy(), expected)
    # the auxiliary head on its own, at the 17x17x768 map it sees in a 299x299 image
    feature_map = np.random.randn(2, 768, 17, 17).astype(np.float32)
    with torch.no_grad():
        expected = reference.AuxLogits(torch.from_numpy(feature_map)).numpy()
    assert_close(ours.AuxLogits(scratchnet.tensor(feature_map)).numpy(), expected)


# --- Inception-v4
# -----------------------------------------------------------------------------------


def reduction_a_params(c_in, k, l, m, n):  # noqa: E741 (the paper's names)
    return (
        basic_conv(c_in, n, 3) + basic_conv(c_in, k, 1) + basic_conv(k, l, 3) + basic_conv(l, m, 3)
    )


@pytest.mark.parametrize(
    ("c_in", "klmn", "c_out"),
    [
        (384, (192, 224, 256, 384), 1024),
        (256, (192, 192, 256, 384), 896),
        (320, (256, 256, 384, 384), 1088),
    ],
    ids=["inception-v4", "inception-resnet-v1", "inception-resnet-v2-released"],
)
def test_reduction_a_is_table_1(c_in, klmn, c_out):
    k, l, m, n = klmn  # noqa: E741
    block = models.ReductionA(c_in, k, l, m, n)
    assert count_params(block) == reduction_a_params(c_in, k, l, m, n)
    assert block(scratchnet.randn(1, c_in, 7, 7)).shape == (1, c_out, 3, 3)  # n + m + c_in channels


def test_v4_parameter_count_and_head():
    model = models.inception_v4()
    assert count_params(model) == 42_679_816  # the released model's, as published for its ports
    assert dropout_rates(model) == [0.2]  # the paper's keep probability 0.8, before the classifier


def test_v4_forward_backward_and_grid_sizes():
    model = models.inception_v4(num_classes=10)
    model.train()
    x = scratchnet.randn(2, 3, 75, 75)
    shapes = []
    for layer in model.features:
        x = layer(x)
        shapes.append(x.shape[1:])
    # stem 75 -> 37 -> 35 -> 35 -> 17 -> 15 -> 7 (299 -> 149 -> 147 -> 147 -> 73 -> 71 -> 35)
    assert shapes[:6] == [
        (32, 37, 37),
        (32, 35, 35),
        (64, 35, 35),
        (160, 17, 17),
        (192, 15, 15),
        (384, 7, 7),
    ]
    assert shapes[6:10] == [(384, 7, 7)] * 4  # 4 x Inception-A
    assert shapes[10:18] == [(1024, 3, 3)] * 8  # Reduction-A, 7 x Inception-B
    assert shapes[18:] == [(1536, 1, 1)] * 4  # Reduction-B, 3 x Inception-C
    y = model.last_linear(model.dropout(scratchnet.flatten(model.avgpool(x), 1)))
    assert y.shape == (2, 10)
    y.backward(scratchnet.randn(*y.shape))
    assert all(p.grad is not None for p in model.parameters())


def test_v4_keys_are_the_released_ports():
    model = models.inception_v4(
        num_classes=1001
    )  # the TF-slim checkpoint's classes: background + 1000
    assert count_params(model) == 42_679_816 + 1536 + 1
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["features.0.conv.weight"] == (32, 3, 3, 3)
    assert shapes["features.3.conv.conv.weight"] == (96, 64, 3, 3)  # Mixed_3a
    assert shapes["features.11.branch2.1.conv.weight"] == (
        192,
        192,
        7,
        1,
    )  # Inception-B: 7x1 first (released)
    assert shapes["features.19.branch2_1.conv.weight"] == (
        448,
        384,
        3,
        1,
    )  # Inception-C: 3x1 first (released)
    assert shapes["features.21.branch3.1.bn.running_var"] == (256,)
    assert shapes["last_linear.weight"] == (1001, 1536)


# --- Inception-ResNet
# -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_block", "c_in"),
    [
        (lambda: models.InceptionResNetA(16, (4, 6, 8), scale=0.17), 16),
        (lambda: models.InceptionResNetB(24, 8, (4, 6, 8), scale=0.10), 24),
        (lambda: models.InceptionResNetC(24, (4, 6, 8), scale=0.20), 24),
        (lambda: models.InceptionResNetC(24, (4, 6, 8), scale=1.0, activation=False), 24),
    ],
    ids=["A", "B", "C", "C-last"],
)
def test_residual_block_is_scaled_addition(make_block, c_in):
    block = make_block()
    x = scratchnet.randn(2, c_in, 5, 5, requires_grad=True)
    block.train()
    y = block(x)
    branches = [block.branch0(x), block.branch1(x)] + (
        [block.branch2(x)] if hasattr(block, "branch2") else []
    )
    residual = block.conv2d(
        scratchnet.cat(branches, 1)
    ).numpy()  # the "Linear" 1x1 conv back to c_in
    pre = x.numpy() + block.scale * residual
    expected = np.maximum(pre, 0) if getattr(block, "activation", True) else pre
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)
    y.backward(scratchnet.randn(*y.shape))
    assert x.grad is not None


def test_inception_resnet_a_v2_parameters_by_hand():
    # Fig. 16: 1x1 32 | 1x1 32, 3x3 32 | 1x1 32, 3x3 48, 3x3 64; 1x1 "Linear" 128 -> 320 with bias
    expected = (
        basic_conv(320, 32, 1)
        + basic_conv(320, 32, 1)
        + basic_conv(32, 32, 3)
        + basic_conv(320, 32, 1)
        + basic_conv(32, 48, 3)
        + basic_conv(48, 64, 3)
        + 128 * 320
        + 320
    )
    assert count_params(models.InceptionResNetA(320, (32, 48, 64))) == expected == 123_168


def test_inception_resnet_v1_follows_the_paper():
    model = models.inception_resnet_v1()
    assert count_params(model) == 22_756_328
    assert [len(model.repeat), len(model.repeat_1), len(model.repeat_2)] == [5, 10, 5]  # Fig. 15
    assert {b.scale for b in model.repeat} == {0.17}
    assert {b.scale for b in model.repeat_1} == {0.10}
    assert {b.scale for b in model.repeat_2} == {0.20}
    assert all(b.activation for b in model.repeat_2)
    assert model.last_linear.weight.shape == (1000, 1792)
    assert dropout_rates(model) == [0.2]


def test_inception_resnet_v2_is_the_released_model():
    model = models.inception_resnet_v2()
    assert count_params(model) == 55_843_464  # as published for the released model's ports
    assert [len(model.repeat), len(model.repeat_1), len(model.repeat_2)] == [10, 20, 9]
    assert (
        model.block8.scale == 1.0 and not model.block8.activation
    )  # the 10th C block: no scale, no ReLU
    assert dropout_rates(model) == [0.2]
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["mixed_5b.branch3.1.conv.weight"] == (64, 192, 1, 1)
    assert shapes["repeat.9.conv2d.weight"] == (320, 128, 1, 1)
    assert shapes["repeat_1.19.conv2d.bias"] == (1088,)
    assert shapes["mixed_7a.branch2.2.conv.weight"] == (320, 288, 3, 3)
    assert shapes["block8.conv2d.weight"] == (2080, 448, 1, 1)
    assert shapes["conv2d_7b.conv.weight"] == (1536, 2080, 1, 1)


@pytest.mark.parametrize("name", ["inception_resnet_v1", "inception_resnet_v2"])
def test_inception_resnet_forward_backward(name):
    forward_backward(getattr(models, name)(num_classes=10), classes=10)


def test_eval_is_deterministic_and_train_is_not():
    model = models.inception_resnet_v1(num_classes=10)
    x = scratchnet.randn(2, 3, 75, 75)
    model.eval()  # dropout off, BatchNorm on its running statistics
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    assert not np.array_equal(model(x).numpy(), model(x).numpy())
