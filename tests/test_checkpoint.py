"""Checkpoints: the .npz format without pickle, atomic saving, and exact resumption of training."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import DataLoader, TensorDataset, digits
from scratchnet.data.transforms import RandomCrop
from scratchnet.io import npz
from scratchnet.optim import lr_scheduler
from scratchnet.train import fit, load_checkpoint, save_checkpoint

# --------------------------------------------------------------------------- the .npz format


def test_nested_roundtrip_keeps_types(tmp_path):
    obj = {
        "weights": {
            "conv1.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
            "bn.n": np.int64(7),
        },
        "state": {0: {"step": 3, "buf": np.ones(2)}, 1: {}},
        "groups": [
            {"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "name": "head", "none": None}
        ],
        "tensor": sn.tensor([1.0, 2.0]),
        "big": 2**100 + 1,  # a PCG64 state is a 128-bit integer
        "nan": float("nan"),
        "a/b": np.zeros(1),
        "a": {"b": np.ones(1)},  # the same path as the key above: both must survive
    }
    npz.save(obj, tmp_path / "obj.npz")
    back = npz.load(tmp_path / "obj.npz")
    np.testing.assert_array_equal(back["weights"]["conv1.weight"], obj["weights"]["conv1.weight"])
    assert (
        back["weights"]["conv1.weight"].dtype == np.float32
        and back["weights"]["bn.n"].dtype == np.int64
    )
    assert (
        list(back["state"]) == [0, 1] and back["state"][0]["step"] == 3 and back["state"][1] == {}
    )
    assert back["groups"][0] == {
        "lr": 0.1,
        "betas": (0.9, 0.999),
        "nesterov": False,
        "name": "head",
        "none": None,
    }
    assert isinstance(back["groups"], list) and isinstance(back["groups"][0]["betas"], tuple)
    np.testing.assert_array_equal(back["tensor"], [1.0, 2.0])
    assert back["big"] == 2**100 + 1 and np.isnan(back["nan"])
    assert back["a/b"].tolist() == [0.0] and back["a"]["b"].tolist() == [1.0]


def test_file_is_a_plain_npz_with_readable_names(tmp_path):
    npz.save({"model": {"fc.weight": np.ones((2, 2))}}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        assert "model/fc.weight" in f.files
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    # a foreign .npz loads as a dict
    assert npz.load(tmp_path / "plain.npz")["x"].tolist() == [0, 1, 2]


def test_no_pickle_on_save_or_load(tmp_path):
    with pytest.raises(TypeError, match="without pickle"):
        npz.save({"x": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot store set"):
        npz.save({"x": {1, 2}}, tmp_path / "x.npz")
    np.savez(tmp_path / "evil.npz", payload=np.array([print], dtype=object))  # needs pickle to read
    with pytest.raises(
        ValueError, match=r"evil\.npz: array 'payload' holds Python objects"
    ) as refused:
        npz.load(tmp_path / "evil.npz")
    assert "allow_pickle" not in str(refused.value)  # never suggest the unsafe option
    with pytest.raises(FileNotFoundError):
        npz.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- atomic saving


def test_failure_mid_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    npz.save({"version": 1, "w": np.ones(1000)}, path)

    def crash_after_some_bytes(file, arrays):
        file.write(b"PK\x03\x04 half a zip file")  # a partial write ...
        raise OSError("disk full")  # ... then the failure

    monkeypatch.setattr(npz, "_write_arrays", crash_after_some_bytes)
    with pytest.raises(OSError, match="disk full"):
        npz.save({"version": 2, "w": np.zeros(1000)}, path)
    monkeypatch.undo()
    back = npz.load(path)
    assert back["version"] == 1 and back["w"].sum() == 1000
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed


def test_process_killed_mid_write_keeps_the_previous_file(tmp_path):
    """A hard crash (no exception handling at all) half-way through writing the new checkpoint."""
    path = tmp_path / "ckpt.npz"
    npz.save({"version": 1}, path)
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        from scratchnet.io import npz

        def die_half_way(file, arrays):
            file.write(b"PK\\x03\\x04" + bytes(5000))
            file.flush()
            os._exit(3)  # the process ends here: no cleanup, no finally blocks

        npz._write_arrays = die_half_way
        npz.save({{"version": 2, "w": np.zeros(10000)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert result.returncode == 3
    assert npz.load(path)["version"] == 1
    leftovers = [name for name in os.listdir(tmp_path) if name != "ckpt.npz"]
    assert leftovers and all(
        name.startswith(".ckpt.npz.") and name.endswith(".tmp") for name in leftovers
    )
    npz.save({"version": 3}, path)  # the next save to that path cleans up after the dead one
    assert os.listdir(tmp_path) == ["ckpt.npz"] and npz.load(path)["version"] == 3


# --------------------------------------------------------------------------- checkpoints


def small_model():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(4 * 4 * 4, 10),
    )


def setup_run(seed):
    """Model, optimizer, scheduler and an augmenting, shuffling loader, all from one seed."""
    sn.manual_seed(seed)
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train = digits("train")
    loader = DataLoader(
        TensorDataset(train.images[:160], train.labels[:160]),
        batch_size=32,
        shuffle=True,
        transform=RandomCrop(8, padding=1),
    )
    return model, opt, sched, loader


def test_resume_from_checkpoint_is_identical_to_an_uninterrupted_run(tmp_path):
    val = DataLoader(digits("val"), batch_size=100)
    model, opt, sched, loader = setup_run(seed=0)
    straight = fit(model, loader, val, opt, epochs=2, scheduler=sched, progress=False)
    expected = model.state_dict()

    model, opt, sched, loader = setup_run(seed=0)
    fit(
        model,
        loader,
        val,
        opt,
        epochs=1,
        scheduler=sched,
        progress=False,
        checkpoint=tmp_path / "ckpt.npz",
    )

    # A new process would start from other weights, another loader seed and another RNG state.
    model, opt, sched, loader = setup_run(seed=12345)
    resumed = fit(
        model,
        loader,
        val,
        opt,
        epochs=2,
        scheduler=sched,
        progress=False,
        resume_from=tmp_path / "ckpt.npz",
    )
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)  # bit for bit
    assert len(resumed) == 2
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        assert resumed[key] == straight[key]


def test_save_and_load_checkpoint_parts(tmp_path):
    model, opt, sched, loader = setup_run(seed=0)
    fit(model, loader, None, opt, epochs=1, scheduler=sched, progress=False)
    save_checkpoint(
        tmp_path / "c.npz", model, opt, sched, epoch=1, loaders={"train": loader}, note="hello"
    )
    after_save = sn.rand(3).numpy()

    model2, opt2, sched2, loader2 = setup_run(seed=99)
    state = load_checkpoint(tmp_path / "c.npz", model2, opt2, sched2, loaders={"train": loader2})
    np.testing.assert_array_equal(sn.rand(3).numpy(), after_save)  # the RNG is back where it was
    assert state["epoch"] == 1 and state["extra"] == {"note": "hello"}
    assert sched2.last_epoch == 1 and opt2.param_groups[0]["lr"] == pytest.approx(0.025)
    assert loader2.seed == loader.seed
    for p, q in zip(opt.state.values(), opt2.state.values(), strict=True):
        np.testing.assert_array_equal(p["momentum_buffer"], q["momentum_buffer"])
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, model2.state_dict()[key])
    with pytest.raises(ValueError, match="not a scratchnet checkpoint"):
        npz.save({"x": 1}, tmp_path / "other.npz")
        load_checkpoint(tmp_path / "other.npz", model2)
