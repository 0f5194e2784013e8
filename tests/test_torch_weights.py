"""scratchnet.io.load_torch_state_dict:
torchvision weights in scratchnet models give torchvision's outputs."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.io.torch_weights import load_torch_state_dict
from scratchnet.models import densenet, resnet


def small_model():
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 2 * 2, 2)
    )


def test_numpy_dict_and_npz(tmp_path):
    source, target = small_model(), small_model()
    state = source.state_dict()
    assert "1.num_batches_tracked" in state
    load_torch_state_dict(target, state)
    assert all(np.array_equal(state[k], v) for k, v in target.state_dict().items())
    np.savez(tmp_path / "w.npz", **{k: v + 1 for k, v in state.items()})
    load_torch_state_dict(target, tmp_path / "w.npz")
    np.testing.assert_array_equal(target.state_dict()["0.weight"], state["0.weight"] + 1)


def test_strict_and_shape_errors():
    model = small_model()
    state = model.state_dict()
    with pytest.raises(RuntimeError, match="Missing key"):
        load_torch_state_dict(model, {k: v for k, v in state.items() if k != "1.running_var"})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        load_torch_state_dict(model, dict(state, extra=np.zeros(1)))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_torch_state_dict(model, dict(state, **{"3.bias": np.zeros(5)}))
    with pytest.raises(FileNotFoundError):
        load_torch_state_dict(model, "no/such/file.pth")


def test_pth_without_torch(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    path.write_bytes(b"not read")
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install torch.*\.npz"):
        load_torch_state_dict(small_model(), path)


def test_torch_tensors_and_pth(torch, tmp_path):
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3),
        torch.nn.BatchNorm2d(3),
        torch.nn.Flatten(),
        torch.nn.Linear(12, 2),
    )
    theirs.train()(torch.randn(4, 2, 4, 4))  # move the running statistics, count one batch
    theirs.eval()
    ours = small_model()
    load_torch_state_dict(ours, theirs.state_dict())
    assert ours.state_dict()["1.num_batches_tracked"] == 1
    torch.save({"state_dict": theirs.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pth")
    ours = small_model()
    load_torch_state_dict(ours, tmp_path / "checkpoint.pth")
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with sn.no_grad():
        np.testing.assert_allclose(
            ours.eval()(sn.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize(
    "name, family",
    [("resnet18", resnet), ("resnet50", resnet), ("densenet121", densenet)],
)
def test_torchvision_outputs(torch, name, family):
    torchvision = pytest.importorskip(
        "torchvision", reason="torchvision is not installed: interop skipped"
    )
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)()
    with torch.no_grad():  # random BatchNorm statistics and affine maps, so BN is not the identity
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    theirs.eval()
    ours = getattr(family, name)()
    load_torch_state_dict(ours, theirs.state_dict())
    ours.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with sn.no_grad():
        got = ours(sn.tensor(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
