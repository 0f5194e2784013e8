"""Damaged and hostile files: every one gives one
clear error that names the file, and changes nothing.

The table below builds, in ``tmp_path``, the files a course meets: checkpoints truncated anywhere,
edited, or not checkpoints at all; MNIST, CIFAR-10 and MedMNIST files that are truncated, have
trailing bytes, miss an entry, hold the wrong shape, labels outside the classes or NaN pixels;
decompression bombs; a FIFO, a directory, a missing file. Each must raise a plain ``ValueError``
(or ``FileNotFoundError`` / ``IsADirectoryError``) whose message names the file and the scratchnet
concept, never NumPy's or zipfile's bare exceptions, and never suggest ``allow_pickle``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import struct
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import cifar10, medmnist, mnist
from scratchnet.io import load_torch_state_dict
from scratchnet.train import load_checkpoint, save_checkpoint

CHECKPOINT = r"scratchnet (checkpoint|file)"
MNIST, CIFAR, MEDMNIST = r"mnist|idx file", r"cifar", r"medmnist"
# expands past the 64 MiB that is always allowed, about 1000 times its size
BOMB_BYTES = 100 * 2**20


# --------------------------------------------------------------------------- building the files


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def _checkpoint(path: Path) -> bytes:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(sn.randn(5, 3)).sum().backward()
    opt.step()
    save_checkpoint(path, model, opt, epoch=1)
    return path.read_bytes()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _tree_file(
    path: Path, tree: Any, arrays: dict[str, np.ndarray] | None = None, raw: str | None = None
) -> None:
    """A file laid out like scratchnet.save's, with a tree written by hand (an edited header)."""
    text = raw if raw is not None else json.dumps({"format": "scratchnet-npz-1", "tree": tree})
    np.savez(path, __scratchnet_tree__=np.array(text), **(arrays or {}))


def _lying_npy(path: Path) -> None:
    """A member whose .npy header claims 10**12 float64s (8 TB) but that holds 16 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    tree = json.dumps({"format": "scratchnet-npz-1", "tree": {"array": "w"}})
    _zip(
        path,
        {
            "__scratchnet_tree__.npy": _npy_bytes(np.array(tree)),
            "w.npy": header.getvalue() + bytes(16),
        },
    )


def _npz_bomb(path: Path, name: str = "w", extra: dict[str, np.ndarray] | None = None) -> None:
    """A .npz of about 100 KB holding 100 MiB of zeros,
    written in 1 MiB pieces (never all in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member,
                {"descr": "|u1", "fortran_order": False, "shape": (BOMB_BYTES // 784, 28, 28)},
            )
            for _ in range(BOMB_BYTES // 784 * 784 // 2**20):
                member.write(bytes(2**20))
            member.write(bytes(BOMB_BYTES // 784 * 784 % 2**20))
        for key, value in (extra or {}).items():
            archive.writestr(f"{key}.npy", _npy_bytes(value))


def _idx(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D}
    array = array.astype(">f4") if array.dtype.kind == "f" else array
    return (
        bytes([0, 0, codes[array.dtype], array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def _mnist_files(
    root: Path, images: bytes | None = None, labels: bytes | None = None, gz: bool = False
) -> None:
    good_images = _idx(np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8))
    good_labels = _idx(np.array([3, 1, 4], dtype=np.uint8))
    images = good_images if images is None else images
    labels = good_labels if labels is None else labels
    for name, data in [("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)]:
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)


def _cifar_batch(root: Path, batch: Any = None, raw: bytes | None = None) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    if batch is None:
        batch = {b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), b"labels": [1, 2, 3]}
    path = folder / "test_batch"
    path.write_bytes(raw if raw is not None else pickle.dumps(batch, protocol=2))
    return path


def _cifar_binary(root: Path, labels: list[int], extra: bytes = b"") -> Path:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(exist_ok=True)
    records = np.random.default_rng(0).integers(0, 256, (len(labels), 3073), dtype=np.uint8)
    records[:, 0] = labels
    path = folder / "test_batch.bin"
    path.write_bytes(records.tobytes() + extra)
    return path


def _medmnist(root: Path, **changes: Any) -> Path:
    """bloodmnist.npz (8 classes, RGB 28x28):
    the val split, with ``changes`` applied to its arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "val_images": rng.integers(0, 256, (4, 28, 28, 3), dtype=np.uint8),
        "val_labels": np.array([[0], [7], [3], [5]], dtype=np.uint8),
    }
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = root / "bloodmnist.npz"
    np.savez_compressed(path, **arrays)
    return path


def _fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("os.mkfifo: POSIX only")
    os.mkfifo(path)
    # A writer that has already written some bytes, so a reader that does not check the file type
    # fails on what it reads instead of waiting forever for a writer (the bug this guards against).
    writer = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    os.write(writer, b"not a checkpoint at all")
    _FIFO_WRITERS.append(writer)
    return path


_FIFO_WRITERS: list[int] = []


@pytest.fixture(autouse=True)
def _close_fifo_writers():
    yield
    while _FIFO_WRITERS:
        os.close(_FIFO_WRITERS.pop())


# --------------------------------------------------------------------------- the table

# id -> build(tmp_path) returning
# (the call that must fail, the file it must name, the concept it must name)
Case = Callable[[Path], tuple[Callable[[], Any], Path, str]]


def _load(path: Path) -> tuple[Callable[[], Any], Path, str]:
    return (lambda: sn.load(path)), path, CHECKPOINT


def _truncated(fraction: float | None, keep: int | None = None) -> Case:
    def build(tmp):
        whole = _checkpoint(tmp / "full.npz")
        path = tmp / "cut.npz"
        path.write_bytes(whole[: keep if keep is not None else int(len(whole) * fraction)])
        return (lambda: load_checkpoint(path, _model())), path, CHECKPOINT

    return build


def _flipped(offset_from_end: int) -> Case:
    def build(tmp):
        data = bytearray(_checkpoint(tmp / "ckpt.npz"))
        data[len(data) - offset_from_end] ^= 0xFF
        path = tmp / "flipped.npz"
        path.write_bytes(bytes(data))
        return (lambda: load_checkpoint(path, _model())), path, CHECKPOINT

    return build


def _written(write: Callable[[Path], Any], name: str = "bad.npz") -> Case:
    def build(tmp):
        path = tmp / name
        write(path)
        return _load(path)

    return build


def _checkpoint_edited(edit: Callable[[dict[str, Any]], Any]) -> Case:
    def build(tmp):
        _checkpoint(tmp / "good.npz")
        state = sn.load(tmp / "good.npz")
        edit(state)
        path = tmp / "edited.npz"
        sn.save(state, path)
        return (lambda: load_checkpoint(path, _model())), path, CHECKPOINT

    return build


def _mnist_case(
    images: bytes | None = None,
    labels: bytes | None = None,
    gz: bool = False,
    blame: str = "images",
) -> Case:
    def build(tmp):
        _mnist_files(tmp, images, labels, gz)
        name = f"t10k-{blame}-idx{3 if blame == 'images' else 1}-ubyte" + (".gz" if gz else "")
        return (lambda: mnist("test", root=tmp)), tmp / name, MNIST

    return build


def _mnist_bomb(tmp):
    path = tmp / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as file:
        n = BOMB_BYTES // 784
        file.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28))
        for _ in range(n * 784 // 2**20):
            file.write(bytes(2**20))
        file.write(bytes(n * 784 % 2**20))
    (tmp / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(n, np.uint8)))
    return (lambda: mnist("test", root=tmp)), path, MNIST


def _gz_truncated(tmp):
    _mnist_files(tmp, gz=True)
    path = tmp / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    return (lambda: mnist("test", root=tmp)), path, MNIST


def _cifar_case(batch: Any = None, raw: bytes | None = None) -> Case:
    def build(tmp):
        path = _cifar_batch(tmp, batch, raw)
        return (lambda: cifar10("test", root=tmp)), path, CIFAR

    return build


def _cifar_binary_case(labels: list[int], extra: bytes = b"") -> Case:
    def build(tmp):
        path = _cifar_binary(tmp, labels, extra)
        return (lambda: cifar10("test", root=tmp)), path, CIFAR

    return build


def _medmnist_case(**changes: Any) -> Case:
    def build(tmp):
        path = _medmnist(tmp, **changes)
        return (lambda: medmnist("bloodmnist", "val", root=tmp)), path, MEDMNIST

    return build


def _medmnist_written(write: Callable[[Path], Any]) -> Case:
    def build(tmp):
        path = tmp / "bloodmnist.npz"
        write(path)
        return (lambda: medmnist("bloodmnist", "val", root=tmp)), path, MEDMNIST

    return build


def _with_fifo(tmp):
    return _load(_fifo(tmp / "ckpt.npz"))


def _cifar_fifo(tmp):
    folder = tmp / "cifar-10-batches-py"
    folder.mkdir()
    path = _fifo(folder / "test_batch")
    return (lambda: cifar10("test", root=tmp)), path, CIFAR


def _directory(tmp):
    (tmp / "ckpt.npz").mkdir()
    return _load(tmp / "ckpt.npz")


def _mnist_directory(tmp):
    _mnist_files(tmp)
    (tmp / "t10k-images-idx3-ubyte").unlink()
    (tmp / "t10k-images-idx3-ubyte").mkdir()
    return (lambda: mnist("test", root=tmp)), tmp / "t10k-images-idx3-ubyte", MNIST


def _torch_weights_truncated(tmp):
    path = tmp / "resnet.npz"
    np.savez(path, **{"0.weight": np.ones((4, 3))})
    path.write_bytes(path.read_bytes()[:-30])
    return (lambda: load_torch_state_dict(_model(), path)), path, r"weights file"


def _torch_weights_fifo(tmp):
    path = _fifo(tmp / "resnet.pth")
    return (lambda: load_torch_state_dict(_model(), path)), path, r"weights file"


def _rng_edited(state):
    state["rng"] = {"bit_generator": "Nonsense", "state": 3}


def _deep_json(path):
    return _tree_file(
        path,
        None,
        raw='{"format": "scratchnet-npz-1", "tree": ' + "[" * 100_000 + "]" * 100_000 + "}",
    )


def _deep_tree(path):
    node: Any = {"value": 1}
    for _ in range(200):
        node = {"list": [node]}
    _tree_file(path, node)


def _u8(values):
    return np.array(values, dtype=np.uint8)


CASES: dict[str, Case] = {
    # --- checkpoints: truncated anywhere, empty, bytes flipped
    "ckpt-empty": _truncated(0.0),
    "ckpt-cut-10-bytes": _truncated(None, keep=10),
    "ckpt-cut-10%": _truncated(0.1),
    "ckpt-cut-50%": _truncated(0.5),
    "ckpt-cut-90%": _truncated(0.9),
    "ckpt-cut-last-byte": _truncated(None, keep=-1),
    "ckpt-flip-directory-byte": _flipped(30),
    "ckpt-flip-data-byte": _flipped(1200),
    # --- not a checkpoint at all
    "text-file": _written(lambda p: p.write_text("epoch,loss\n1,0.5\n")),
    "random-bytes": _written(lambda p: p.write_bytes(np.random.default_rng(0).bytes(500))),
    "plain-npy": _written(lambda p: p.write_bytes(_npy_bytes(np.ones(3)))),
    "pickle-file": _written(lambda p: p.write_bytes(pickle.dumps({"w": [1.0]}))),
    "torch-save-zip": _written(
        lambda p: _zip(p, {"archive/data.pkl": pickle.dumps({}), "archive/version": b"3"})
    ),
    "zip-of-text": _written(lambda p: _zip(p, {"notes.txt": b"hello"})),
    "object-array": _written(lambda p: np.savez(p, payload=np.array([print], dtype=object))),
    # --- an edited tree header
    "tree-invalid-json": _written(
        lambda p: _tree_file(p, None, raw='{"format": "scratchnet-npz-1", "tree": {')
    ),
    "tree-nested-json": _written(_deep_json),
    "tree-nested-nodes": _written(_deep_tree),
    "tree-missing-array": _written(
        lambda p: _tree_file(p, {"dict": [["w", {"array": "nowhere"}]]})
    ),
    "tree-unknown-kind": _written(lambda p: _tree_file(p, {"set": [1, 2]})),
    "tree-two-kinds": _written(lambda p: _tree_file(p, {"value": 1, "list": []})),
    "tree-bad-pair": _written(lambda p: _tree_file(p, {"dict": [["a"]]})),
    "tree-not-a-dict": _written(lambda p: _tree_file(p, 42)),
    "tree-no-tree": _written(lambda p: _tree_file(p, None, raw='{"format": "scratchnet-npz-1"}')),
    "tree-is-a-number": _written(lambda p: np.savez(p, __scratchnet_tree__=np.array(3.5))),
    "npy-header-lies": _written(_lying_npy),
    "npz-bomb": _written(_npz_bomb),
    # --- files that are not regular files, or not there
    "fifo": _with_fifo,
    "directory": _directory,
    "missing": lambda tmp: _load(tmp / "nowhere.npz"),
    # --- a checkpoint whose entries were edited
    "ckpt-model-is-a-list": _checkpoint_edited(lambda s: s.update(model=[1, 2])),
    "ckpt-no-rng": _checkpoint_edited(lambda s: s.pop("rng")),
    "ckpt-loaders-is-text": _checkpoint_edited(lambda s: s.update(loaders="x")),
    # --- PyTorch weights
    "weights-npz-truncated": _torch_weights_truncated,
    "weights-fifo": _torch_weights_fifo,
    # --- MNIST idx files
    "mnist-images-truncated": _mnist_case(images=_idx(np.zeros((3, 28, 28), np.uint8))[:-100]),
    "mnist-images-trailing-bytes": _mnist_case(
        images=_idx(np.zeros((3, 28, 28), np.uint8)) + b"\0" * 7
    ),
    "mnist-header-truncated": _mnist_case(images=bytes([0, 0, 8, 3, 0, 0])),
    "mnist-empty": _mnist_case(labels=b"", blame="labels"),
    "mnist-text": _mnist_case(images=b"<html>404 Not Found</html>"),
    "mnist-label-250": _mnist_case(labels=_idx(_u8([3, 250, 4])), blame="labels"),
    "mnist-labels-too-few": _mnist_case(labels=_idx(_u8([3, 1])), blame="labels"),
    "mnist-labels-trailing": _mnist_case(labels=_idx(_u8([3, 1, 4])) + b"\x07", blame="labels"),
    "mnist-images-2d": _mnist_case(images=_idx(np.zeros((3, 784), np.uint8))),
    "mnist-images-nan": _mnist_case(images=_idx(np.full((3, 28, 28), np.nan, np.float32))),
    "mnist-labels-2.5": _mnist_case(labels=_idx(np.array([3, 2.5, 1], np.float32)), blame="labels"),
    "mnist-gz-truncated": _gz_truncated,
    "mnist-gz-bomb": _mnist_bomb,
    "mnist-directory": _mnist_directory,
    # --- CIFAR-10 python batches and binary files
    "cifar-no-data": _cifar_case({b"labels": [1, 2, 3]}),
    "cifar-not-a-dict": _cifar_case([1, 2, 3]),
    "cifar-str-keys": _cifar_case({"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2, 3]}),
    "cifar-label-99": _cifar_case({b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 99, 3]}),
    "cifar-label-negative": _cifar_case(
        {b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, -1, 3]}
    ),
    "cifar-label-2.5": _cifar_case(
        {b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2.5, 3]}
    ),
    "cifar-labels-too-few": _cifar_case(
        {b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2]}
    ),
    "cifar-data-wrong-shape": _cifar_case(
        {b"data": np.zeros((3, 1000), np.uint8), b"labels": [1, 2, 3]}
    ),
    "cifar-data-nan": _cifar_case({b"data": np.full((3, 3072), np.nan), b"labels": [1, 2, 3]}),
    "cifar-truncated": _cifar_case(
        raw=pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2, 3]})[:-500]
    ),
    "cifar-text": _cifar_case(raw=b"airplane,automobile\n"),
    "cifar-empty": _cifar_case(raw=b""),
    "cifar-fifo": _cifar_fifo,
    "cifar-bin-label-200": _cifar_binary_case([1, 200, 3]),
    "cifar-bin-truncated": _cifar_binary_case([1, 2, 3], extra=b"\x01" * 100),
    # --- MedMNIST archives (bloodmnist: 8 classes, RGB)
    "medmnist-no-labels": _medmnist_case(val_labels=None),
    "medmnist-no-images": _medmnist_case(val_images=None),
    "medmnist-label-200": _medmnist_case(val_labels=_u8([[0], [200], [3], [5]])),
    "medmnist-label-2.5": _medmnist_case(val_labels=np.array([[0], [2.5], [3], [5]])),
    "medmnist-labels-too-few": _medmnist_case(val_labels=_u8([[0], [1]])),
    "medmnist-grey-images": _medmnist_case(val_images=np.zeros((4, 28, 28), np.uint8)),
    "medmnist-images-64": _medmnist_case(val_images=np.zeros((4, 64, 64, 3), np.uint8)),
    "medmnist-images-nan": _medmnist_case(val_images=np.full((4, 28, 28, 3), np.nan, np.float32)),
    "medmnist-truncated": _medmnist_written(
        lambda p: (_medmnist(p.parent), p.write_bytes(p.read_bytes()[:-40]))
    ),
    "medmnist-text": _medmnist_written(lambda p: p.write_text("see https://medmnist.com")),
    "medmnist-bomb": _medmnist_written(
        lambda p: _npz_bomb(p, "val_images", {"val_labels": _u8([[0]] * 10)})
    ),
}


# Words of NumPy's, zipfile's and json's own messages, and the unsafe hint of NumPy's.
LOW_LEVEL_MESSAGES = (
    "allow_pickle",
    "Errno",
    "File is not a zip file",
    "cannot reshape",
    "Expecting",
)


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_file_gives_one_clear_error(case, tmp_path):
    call, path, concept = CASES[case](tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(Exception) as raised:  # which exception: checked below
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error, message = raised.value, str(raised.value)
    assert type(error) in (ValueError, FileNotFoundError, IsADirectoryError), (
        f"{type(error).__name__}: {message}"
    )
    assert path.name in message, message  # which file
    assert re.search(concept, message, flags=re.IGNORECASE), message  # which scratchnet concept
    assert not any(low in message for low in LOW_LEVEL_MESSAGES), message
    # no bomb was unpacked
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


# -------------------------------------------------------------------- a failed load changes nothing


def _params(model):
    return {key: value.clone() for key, value in model.state_dict().items()}


def _assert_unchanged(model, opt, before, opt_before, rng_before):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    after = opt.state_dict()
    assert after["param_groups"] == opt_before["param_groups"]
    assert after["state"].keys() == opt_before["state"].keys()
    for index, state in after["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(
                value, opt_before["state"][index][name], err_msg=f"{index}/{name}"
            )
    assert sn.rng.generator().bit_generator.state == rng_before


@pytest.mark.parametrize("mismatch", ["optimizer", "rng", "model"])
def test_a_failed_load_checkpoint_changes_nothing(tmp_path, mismatch):
    """Loading stops at the optimizer (other groups), the RNG (edited) or the model (other shape):
    the model, the optimizer and the RNG must all be as they were, and the file untouched."""
    source = _model()
    source_opt = optim.SGD(source.parameters(), lr=0.5, momentum=0.9)
    if mismatch == "optimizer":  # two parameter groups: the target optimizer has one
        source_opt = optim.SGD(
            [{"params": source[0].parameters()}, {"params": source[2].parameters()}], lr=0.5
        )
    source(sn.randn(5, 3)).sum().backward()
    source_opt.step()
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, source, source_opt, epoch=3)
    if mismatch == "rng":
        state = sn.load(path)
        _rng_edited(state)
        sn.save(state, path)
    content = path.read_bytes()

    sn.manual_seed(7)
    model = (
        _model()
        if mismatch != "model"
        else nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    )
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model(sn.randn(2, 3)).sum().backward()
    opt.step()  # a momentum buffer to keep
    before, opt_before, rng_before = (
        _params(model),
        opt.state_dict(),
        sn.rng.generator().bit_generator.state,
    )
    with pytest.raises((ValueError, RuntimeError)) as raised:
        load_checkpoint(path, model, opt)
    _assert_unchanged(model, opt, before, opt_before, rng_before)
    assert path.read_bytes() == content
    if sys.version_info >= (
        3,
        11,
    ):
        # add_note: the note says which part failed, which file, and that
        note = " ".join(getattr(raised.value, "__notes__", []))  # nothing changed
        assert str(path) in note and "nothing was changed" in note, note


def test_a_load_state_dict_that_fails_while_copying_changes_nothing():
    """Every cast happens before the first copy: under np.seterr(invalid="raise") a NaN for an int
    buffer (BatchNorm's num_batches_tracked) fails after three other tensors were already copied."""
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Linear(2, 2))
    state = {key: np.full(value.shape, 0.5) for key, value in model.state_dict().items()}
    state["1.num_batches_tracked"] = np.array(np.nan)
    before = _params(model)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


# --------------------------------------------------------------------------- the expansion limit


def test_expansion_limit_is_checked_before_unpacking_and_configurable(tmp_path, monkeypatch):
    from scratchnet.io import files

    monkeypatch.setattr(files, "EXPANSION_GRACE_BYTES", 0)  # so that a 1 MB archive counts
    zeros = np.zeros((1300, 28, 28), np.uint8)  # 1 MB: deflate makes it about 1000 times smaller
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, x=zeros)
    with pytest.raises(ValueError, match=r"zeros\.npz would expand .* past the limit of 100 times"):
        sn.load(path)
    # trusted: the keyword
    assert sn.load(path, max_expansion=float("inf"))["x"].shape == zeros.shape
    monkeypatch.setattr(files, "MAX_EXPANSION", 5000)  # or the module default, everywhere
    assert sn.load(path)["x"].shape == zeros.shape

    monkeypatch.setattr(files, "MAX_EXPANSION", 100)
    np.savez_compressed(
        tmp_path / "bloodmnist.npz",
        val_images=np.zeros((1300, 28, 28, 3), np.uint8),
        val_labels=np.zeros((1300, 1), np.uint8),
    )
    with pytest.raises(ValueError, match=r"MedMNIST archive .*bloodmnist\.npz would expand"):
        medmnist("bloodmnist", "val", root=tmp_path)
    assert len(medmnist("bloodmnist", "val", root=tmp_path, max_expansion=5000)) == 1300
    _mnist_files(tmp_path, images=_idx(zeros), labels=_idx(np.zeros(1300, np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"idx file .*t10k-images-idx3-ubyte\.gz would expand"):
        mnist("test", root=tmp_path)
    assert len(mnist("test", root=tmp_path, max_expansion=5000)) == 1300


def test_real_data_sets_expand_well_within_the_limit(tmp_path):
    """Random pixels (like photographs, nearly incompressible)
    and a scratchnet checkpoint (stored)."""
    images = np.random.default_rng(0).integers(0, 256, (200, 28, 28, 3), dtype=np.uint8)
    np.savez_compressed(
        tmp_path / "bloodmnist.npz", val_images=images, val_labels=np.zeros((200, 1), np.uint8)
    )
    from scratchnet.io import files

    with zipfile.ZipFile(tmp_path / "bloodmnist.npz") as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    assert expanded / (tmp_path / "bloodmnist.npz").stat().st_size < files.MAX_EXPANSION / 50
    assert len(medmnist("bloodmnist", "val", root=tmp_path)) == 200


# --------------------------------------------------------------------------- saving


def test_next_save_removes_stale_temporary_files_and_only_those(tmp_path):
    path = tmp_path / "ckpt.npz"
    sn.save({"v": 1}, path)
    stale = [".ckpt.npz.a1b2c3d4.tmp", ".ckpt.npz.zz_9x8y7.tmp"]  # what a killed save leaves
    foreign = [
        ".ckpt.npz.backup.tmp",
        ".other.npz.a1b2c3d4.tmp",
        "ckpt.npz.a1b2c3d4.tmp",
        ".ckpt.npz.a1b2c3d4.tmp.keep",
    ]
    for name in stale + foreign:
        (tmp_path / name).write_bytes(b"PK\x03\x04 half a checkpoint")
    live = tmp_path / ".ckpt.npz.l1vewr1t.tmp"  # another process writing to the same path right now
    live.write_bytes(b"PK\x03\x04 being written")
    fcntl = pytest.importorskip("fcntl", reason="flock: POSIX only")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        sn.save({"v": 2}, path)
        assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", live.name, *foreign])
    sn.save({"v": 3}, path)  # its writer is gone: now it is stale too
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", *foreign])
    assert sn.load(path)["v"] == 3


def test_save_to_a_directory_says_so(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(
        IsADirectoryError, match=r"cannot save to .*runs: it is a directory; give a file name"
    ):
        sn.save({"v": 1}, tmp_path / "runs")
    assert os.listdir(tmp_path / "runs") == [] and os.listdir(tmp_path) == ["runs"]


# --------------------------------------------------------------------------- PyTorch files


class _RunsCode:
    """A pickle that would create ``marker`` when loaded: it must never be."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pytorch_files_that_are_not_plain_state_dicts(tmp_path, torch):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"0.weight": _RunsCode(marker)}, protocol=2))
    with pytest.raises(
        ValueError, match=r"evil\.pth is damaged or holds more than tensors"
    ) as raised:
        load_torch_state_dict(_model(), evil)
    assert not marker.exists()
    # no unsafe hint
    assert "weights_only=False" not in str(raised.value) and "trust" not in str(raised.value)

    good = tmp_path / "good.pth"
    torch.save(
        {key: torch.from_numpy(value.numpy()) for key, value in _model().state_dict().items()}, good
    )
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.pth is truncated or not a PyTorch weights file"):
        load_torch_state_dict(_model(), cut)
    text = tmp_path / "notes.pth"
    text.write_text("0.weight: [[1, 2, 3]]")
    with pytest.raises(
        ValueError, match=r"notes\.pth is not a PyTorch weights file \(\.pth\): it is text"
    ):
        load_torch_state_dict(_model(), text)
