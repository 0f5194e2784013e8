"""VGG: the configuration table, parameter counts, torchvision's keys, equal outputs and gradients.

A VGG holds 133-144M parameters, 103M of them in the first fully connected layer whatever the
input size. Drawing them at random takes seconds, so the structural tests build the models with the
random fills of ``nn.init`` switched off (``no_init``), and the numerical tests load torchvision's
weights into one shared pair of models (``vgg11_bn_pair``). Inputs are 32x32, torchvision's minimum.
"""

import numpy as np
import pytest
from helpers import assert_close, count_params, randomize_

import scratchnet
import scratchnet.io
from scratchnet import models, nn
from scratchnet.io import load_torch_state_dict
from scratchnet.models.vgg import CONFIGS

VARIANTS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
COUNTS = {
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
}


def skip_random_init(mp):
    """Switch off the fills of ``nn.init`` (the weights stay zero): for tests of structure only."""
    for name in dir(nn.init):
        if name.endswith("_") and not name.startswith("_"):
            mp.setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)


@pytest.fixture
def no_init(monkeypatch):
    skip_random_init(monkeypatch)


def test_configs_are_the_papers_table_1():
    convs = {name: sum(1 for e in cfg if e != "M") for name, cfg in CONFIGS.items()}
    assert convs == {"A": 8, "B": 10, "D": 13, "E": 16}  # + 3 FC = 11, 13, 16, 19 weight layers
    assert all(cfg.count("M") == 5 for cfg in CONFIGS.values())  # 224 / 2**5 = 7
    assert all(cfg[-2] == 512 for cfg in CONFIGS.values())


def test_vgg16_parameter_count_by_hand(no_init):
    # the slide's table (weights only), plus one bias per output channel / unit
    convs = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    fcs = [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]
    expected = sum(3 * 3 * c_in * c_out + c_out for c_in, c_out in convs) + sum(
        i * o + o for i, o in fcs
    )
    assert expected == 138_357_544
    model = models.vgg16()
    assert count_params(model) == expected
    assert model.classifier[0].weight.shape == (4096, 25088)  # 102,760,448 weights: most of VGG


@pytest.mark.parametrize("name", VARIANTS)
def test_parameter_count(name, no_init):
    assert count_params(getattr(models, name)()) == COUNTS[name]


@pytest.mark.parametrize("name", VARIANTS)
def test_state_dict_matches_torchvision(name, no_init):
    torch = pytest.importorskip("torch", reason="torch is not installed: no torchvision comparison")
    tvm = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    with torch.device("meta"):  # shapes only, no memory
        reference = getattr(tvm, name)()
    ours = {k: tuple(v.shape) for k, v in getattr(models, name)().state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs


@pytest.fixture(scope="module")
def vgg11_bn_pair():
    """vgg11_bn with dropout 0 (train mode is deterministic), ours holding torchvision's weights."""
    torch = pytest.importorskip("torch", reason="torch is not installed: no torchvision comparison")
    tvm = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    torch.manual_seed(0)
    reference = randomize_(tvm.vgg11_bn(dropout=0.0), torch, redraw_weights=False)
    with pytest.MonkeyPatch.context() as mp:
        skip_random_init(mp)
        ours = models.vgg11_bn(dropout=0.0)
    load_torch_state_dict(ours, reference.state_dict())
    return ours, reference, torch


def test_outputs_match_torchvision_in_eval(vgg11_bn_pair):
    ours, reference, torch = vgg11_bn_pair
    x = np.random.randn(2, 3, 32, 32).astype(np.float32)
    ours.eval()
    reference.eval()
    y = ours(scratchnet.tensor(x)).numpy()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    assert y.shape == (2, 1000)
    assert_close(y, expected, 1e-4)


@pytest.mark.slow  # ~1 GB of weight and gradient traffic in each library
def test_training_step_matches_torchvision(vgg11_bn_pair):
    """Train mode: BN on batch statistics, running stats updated, and equal gradients.

    (A conv bias right before BN gets an exactly-zero gradient in theory, rounding noise in
    practice, so the checked keys avoid those.)
    """
    ours, reference, torch = vgg11_bn_pair
    x = np.random.randn(2, 3, 32, 32).astype(np.float32)
    target = np.array([3, 7])
    ours.train()
    reference.train()
    ours.zero_grad()
    reference.zero_grad()
    loss = nn.functional.cross_entropy(ours(scratchnet.tensor(x)), scratchnet.tensor(target))
    loss.backward()
    expected = torch.nn.functional.cross_entropy(
        reference(torch.from_numpy(x)), torch.from_numpy(target)
    )
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-4)
    theirs = dict(reference.named_parameters())
    checked = ["features.0.weight", "features.1.weight", "features.22.weight", "features.26.bias"]
    for key in [*checked, "classifier.0.weight", "classifier.6.bias"]:
        g = dict(ours.named_parameters())[key].grad.numpy()
        g_ref = theirs[key].grad.numpy()
        np.testing.assert_allclose(
            g, g_ref, rtol=1e-3, atol=1e-4 * np.abs(g_ref).max(), err_msg=key
        )
    buffers = dict(reference.named_buffers())
    for key, value in ours.named_buffers():
        if "running" in key:
            np.testing.assert_allclose(
                value.numpy(), buffers[key].numpy(), rtol=1e-4, atol=1e-6, err_msg=key
            )


def test_dropout_and_train_eval_flags(no_init):
    model = models.vgg16()
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert [
        model.classifier[2],
        model.classifier[5],
    ] == dropouts  # after fc6 and fc7, none in the features
    assert all(m.p == 0.5 for m in dropouts)
    model.eval()
    assert not any(
        m.training for m in model.modules()
    )  # dropout off, BatchNorm on running statistics
    model.train()
    assert all(m.training for m in model.modules())


def test_init_is_torchvisions():
    with pytest.MonkeyPatch.context() as mp:  # skip the 103M-weight classifier's random draw
        skip_random_init(mp)
        model = models.VGG(models.make_layers([8, "M"], batch_norm=True))
    model.classifier = nn.Sequential(nn.Linear(400, 300))
    model._init_weights()
    conv, bn, fc = model.features[0], model.features[1], model.classifier[0]
    assert (
        abs(conv.weight.numpy().std() - (2 / (8 * 3 * 3)) ** 0.5) < 0.05
    )  # He normal, fan_out = 72
    assert abs(fc.weight.numpy().std() - 0.01) < 0.001  # N(0, 0.01)
    for zero in (conv.bias, bn.bias, fc.bias):
        assert np.all(zero.numpy() == 0)
    assert np.all(bn.weight.numpy() == 1)
