"""GoogLeNet: the Inception module's two forms, parameter counts, auxiliary heads, the 0.3-weighted
loss, and torchvision equality (keys, eval outputs, a training step with the auxiliary heads)."""

import numpy as np
import pytest
from helpers import assert_close, count_params, params_without_grad, randomize_

import scratchnet
import scratchnet.io
from scratchnet import models
from scratchnet.io import load_torch_state_dict
from scratchnet.nn import functional as F

# (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): the lecture's "GoogLeNet (6)" table
TABLE_1 = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def basic_conv(c_in, c_out, k):
    return k * k * c_in * c_out + 2 * c_out  # conv without bias, BN's gamma and beta


def inception_params(c_in, c1, c3r, c3, c5r, c5, pp, k5=3):
    return (
        basic_conv(c_in, c1, 1)
        + basic_conv(c_in, c3r, 1)
        + basic_conv(c3r, c3, 3)
        + basic_conv(c_in, c5r, 1)
        + basic_conv(c5r, c5, k5)
        + basic_conv(c_in, pp, 1)
    )


# --- the module
# --------------------------------------------------------------------------------------


def test_inception_module_with_reductions():
    widths = TABLE_1["inception3a"]
    block = models.Inception(*widths)
    assert count_params(block) == inception_params(*widths) == 155_872
    y = block(scratchnet.randn(1, 192, 5, 5))
    assert y.shape == (1, 64 + 128 + 32 + 32, 5, 5)  # the table's 256 output channels


def test_inception_module_naive_form():
    # figure (a): no 1x1 reductions, the pool passes all 192 channels through
    block = models.Inception(*TABLE_1["inception3a"], reduce=False, paper_5x5=True)
    assert count_params(block) == basic_conv(192, 64, 1) + basic_conv(192, 128, 3) + basic_conv(
        192, 32, 5
    )
    assert count_params(block) > 2 * count_params(
        models.Inception(*TABLE_1["inception3a"], paper_5x5=True)
    )
    assert block(scratchnet.randn(1, 192, 5, 5)).shape == (1, 64 + 128 + 32 + 192, 5, 5)


@pytest.mark.parametrize("reduce", [True, False])
def test_inception_module_backward(reduce):
    block = models.Inception(6, 2, 3, 4, 2, 3, 2, reduce=reduce, paper_5x5=True)
    x = scratchnet.randn(2, 6, 5, 5, requires_grad=True)
    y = block(x)
    y.backward(scratchnet.randn(*y.shape))
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0
    assert all(p.grad is not None for p in block.parameters())


def test_paper_5x5_flag():
    assert models.Inception(16, 4, 4, 4, 4, 8, 4).branch3[1].conv.kernel_size == (
        3,
        3,
    )  # torchvision
    assert models.Inception(16, 4, 4, 4, 4, 8, 4, paper_5x5=True).branch3[1].conv.kernel_size == (
        5,
        5,
    )


# --- the network
# ------------------------------------------------------------------------------------


def test_parameter_counts():
    stem = basic_conv(3, 64, 7) + basic_conv(64, 64, 1) + basic_conv(64, 192, 3)
    blocks = sum(inception_params(*w) for w in TABLE_1.values())
    fc = 1024 * 1000 + 1000
    aux = (
        basic_conv(512, 128, 1)
        + basic_conv(528, 128, 1)
        + 2 * (2048 * 1024 + 1024 + 1024 * 1000 + 1000)
    )
    assert stem + blocks + fc == 6_624_904  # torchvision's figure
    assert count_params(models.googlenet(aux_logits=False)) == 6_624_904
    assert count_params(models.googlenet()) == 6_624_904 + aux == 13_004_888
    blocks_5x5 = sum(inception_params(*w, k5=5) for w in TABLE_1.values())
    assert (
        count_params(models.googlenet(aux_logits=False, paper_5x5=True))
        == stem + blocks_5x5 + fc
        == 7_005_832
    )


def test_eval_returns_logits_and_train_returns_aux_outputs():
    model = models.googlenet(num_classes=10)
    x = scratchnet.randn(2, 3, 15, 15)  # torchvision's minimum size
    model.eval()
    y = model(x)
    assert isinstance(y, scratchnet.Tensor) and y.shape == (2, 10)
    np.testing.assert_array_equal(model(x).numpy(), y.numpy())  # dropout off, BN on running stats
    model.train()
    out = model(x)
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [t.shape for t in out] == [(2, 10)] * 3
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")


def test_training_backward_reaches_every_parameter():
    model = models.googlenet(num_classes=5)
    model.train()
    target = scratchnet.tensor(np.array([1, 4]))
    loss = models.googlenet_loss(model(scratchnet.randn(2, 3, 15, 15)), target)
    loss.backward()
    missing = params_without_grad(model)
    assert not missing
    assert np.abs(model.aux1.fc2.weight.grad.numpy()).sum() > 0


def test_googlenet_loss_weights():
    logits, aux2, aux1 = (scratchnet.randn(3, 4) for _ in range(3))
    target = scratchnet.tensor(np.array([0, 3, 1]))
    expected = F.cross_entropy(logits, target).item() + 0.3 * (
        F.cross_entropy(aux1, target).item() + F.cross_entropy(aux2, target).item()
    )
    outputs = models.GoogLeNetOutputs(logits, aux2, aux1)
    assert models.googlenet_loss(outputs, target).item() == pytest.approx(expected, rel=1e-6)
    assert models.googlenet_loss(logits, target).item() == pytest.approx(
        F.cross_entropy(logits, target).item()
    )


def test_no_aux_heads_without_aux_logits():
    model = models.googlenet(aux_logits=False, num_classes=10)
    assert not any(isinstance(m, models.InceptionAux) for m in model.modules())
    model.train()
    assert isinstance(model(scratchnet.randn(2, 3, 15, 15)), scratchnet.Tensor)


# --- torchvision
# ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torchvision_pair():
    """Our GoogLeNet holding a (random) torchvision GoogLeNet's weights; dropouts 0 for training."""
    torch = pytest.importorskip("torch", reason="torch is not installed: no torchvision comparison")
    tvm = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    torch.manual_seed(0)
    reference = randomize_(tvm.googlenet(init_weights=False, dropout=0.0, dropout_aux=0.0), torch)
    ours = models.googlenet(init_weights=False, dropout=0.0, dropout_aux=0.0)
    load_torch_state_dict(ours, reference.state_dict())
    return ours, reference, torch


def test_state_dict_matches_torchvision(torchvision_pair):
    ours, reference, _ = torchvision_pair
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert list(mine) == list(theirs)
    assert mine == theirs
    assert "inception3a.branch1.conv.weight" in mine and mine["aux1.fc1.weight"] == (1024, 2048)


def test_eval_outputs_match_torchvision(torchvision_pair):
    ours, reference, torch = torchvision_pair
    x = np.random.randn(2, 3, 64, 64).astype(np.float32)
    ours.eval()
    reference.eval()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    assert_close(ours(scratchnet.tensor(x)).numpy(), expected)


def test_transform_input_matches_torchvision(torchvision_pair):
    ours, reference, torch = torchvision_pair
    x = np.random.randn(1, 3, 15, 15).astype(np.float32)
    ours.eval()
    reference.eval()
    ours.transform_input = reference.transform_input = True
    try:
        with torch.no_grad():
            expected = reference(torch.from_numpy(x)).numpy()
        assert_close(ours(scratchnet.tensor(x)).numpy(), expected)
    finally:
        ours.transform_input = reference.transform_input = False


def test_training_step_matches_torchvision(torchvision_pair):
    """Train mode (BN on batch statistics) with both auxiliary heads and the 0.3-weighted loss.

    96x96 input: the heads see 6x6 maps, so the adaptive 4x4 pooling has overlapping windows. In
    float64: in float32 the two libraries' rounding differs by ~1e-5, enough to flip which of two
    nearly equal values a max pool picks, and so to send a few gradients elsewhere.
    """
    ours, reference, torch = torchvision_pair
    x = np.random.randn(2, 3, 96, 96)
    target = np.array([5, 900])
    ours.double().train()
    reference.double().train()
    ours.zero_grad()
    reference.zero_grad()
    try:
        out = ours(scratchnet.tensor(x))
        ref_out = reference(torch.from_numpy(x))
        for mine, theirs in zip(out, ref_out, strict=True):
            assert_close(mine.numpy(), theirs.detach().numpy(), rtol=1e-9)
        loss = models.googlenet_loss(out, scratchnet.tensor(target))
        t = torch.from_numpy(target)
        ce = torch.nn.functional.cross_entropy
        ref_loss = ce(ref_out.logits, t) + 0.3 * (
            ce(ref_out.aux_logits1, t) + ce(ref_out.aux_logits2, t)
        )
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
        loss.backward()
        ref_loss.backward()
        theirs = dict(reference.named_parameters())
        for key, p in ours.named_parameters():
            assert_close(p.grad.numpy(), theirs[key].grad.numpy(), rtol=1e-8)
        buffers = dict(reference.named_buffers())
        for key, b in ours.named_buffers():
            assert_close(b.numpy(), buffers[key].numpy(), rtol=1e-9)
    finally:
        ours.float()
        reference.float()
