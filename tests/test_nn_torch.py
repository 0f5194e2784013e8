"""Layers against PyTorch: the same weights give the
same outputs, gradients and running statistics."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import scratchnet as sn
from scratchnet import nn


def _small_cnn(nn):
    """The same network in either library (``nn`` is ``scratchnet.nn`` or ``torch.nn``)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2),  # its bias matters: no BN right after it
        nn.LeakyReLU(0.1),
        nn.BatchNorm2d(8, momentum=None),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 6),
        # a non-linearity before each BN: a bias right before a BN has an exactly zero gradient
        nn.Tanh(),
        nn.BatchNorm1d(6),
        nn.Linear(6, 4),
    )


def _to_numpy(state):
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 1e-4), (np.float64, 1e-10)])
def test_torch_weights_give_the_same_outputs_gradients_and_statistics(torch, dtype, rtol):
    torch.manual_seed(0)
    reference = _small_cnn(torch.nn).to(torch.float64 if dtype == np.float64 else torch.float32)
    model = _small_cnn(nn).to(dtype)
    assert list(model.state_dict()) == list(reference.state_dict())  # PyTorch's key names
    model.load_state_dict(_to_numpy(reference.state_dict()))

    rng = np.random.default_rng(0)
    for step in range(3):  # several training steps: the running statistics must follow torch's
        x = rng.standard_normal((6, 3, 12, 12)).astype(dtype) * (step + 1)
        target = rng.integers(0, 4, size=6)
        tx = torch.tensor(x, requires_grad=True)
        reference.zero_grad()
        model.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(
            reference(tx), torch.tensor(target), label_smoothing=0.1
        )
        x_ = sn.tensor(x, requires_grad=True)
        loss = nn.functional.cross_entropy(model(x_), sn.tensor(target), label_smoothing=0.1)
        t_loss.backward()
        loss.backward()
        assert_close(loss.array, t_loss, rtol)
        assert_close(x_.grad.array, tx.grad, rtol)
        for (name, p), (t_name, tp) in zip(
            model.named_parameters(), reference.named_parameters(), strict=True
        ):
            assert name == t_name and p.grad.dtype == dtype
            assert_close(p.grad.array, tp.grad, rtol, name)
    for key, value in model.state_dict().items():
        assert_close(value, reference.state_dict()[key], rtol, key)

    model.eval(), reference.eval()
    x = rng.standard_normal((2, 3, 12, 12)).astype(dtype)
    assert_close(model(sn.tensor(x)).array, reference(torch.tensor(x)), rtol)


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_running_statistics_follow_torch(torch, momentum):
    for ours, theirs, shape in [
        (
            nn.BatchNorm2d(5, momentum=momentum),
            torch.nn.BatchNorm2d(5, momentum=momentum),
            (4, 5, 3, 3),
        ),
        (nn.BatchNorm1d(5, momentum=momentum), torch.nn.BatchNorm1d(5, momentum=momentum), (7, 5)),
    ]:
        rng = np.random.default_rng(1)
        for step in range(5):
            x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
            ours(sn.tensor(x))
            theirs(torch.tensor(x))
        for key, value in ours.state_dict().items():
            assert_close(value, theirs.state_dict()[key], 1e-5)
        assert ours.state_dict()["num_batches_tracked"] == 5


def test_scratchnet_weights_load_into_torch(torch):
    model = _small_cnn(nn)
    reference = _small_cnn(torch.nn)
    # state_dict values are scratchnet Tensors: .numpy() hands them to PyTorch
    reference.load_state_dict(
        {key: torch.from_numpy(value.numpy()) for key, value in model.state_dict().items()}
    )
    model.eval(), reference.eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert_close(model(sn.tensor(x)).array, reference(torch.tensor(x)), 1e-4)


def test_torch_tensors_load_directly(torch):
    reference = torch.nn.Linear(3, 2)
    model = nn.Linear(3, 2)
    model.load_state_dict(reference.state_dict())  # CPU torch tensors convert with np.asarray
    np.testing.assert_array_equal(model.weight.array, reference.weight.detach().numpy())


def test_default_init_has_torchs_distribution(torch):
    ours, theirs = nn.Conv2d(16, 32, 3), torch.nn.Conv2d(16, 32, 3)
    for name in ("weight", "bias"):
        a, b = getattr(ours, name).array, getattr(theirs, name).detach().numpy()
        assert (
            np.abs(a).max() <= np.abs(b).max() * 1.05 and np.abs(b).max() <= np.abs(a).max() * 1.05
        )
    assert ours.weight.array.std() == pytest.approx(theirs.weight.detach().numpy().std(), rel=0.1)
