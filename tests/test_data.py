"""Datasets and the DataLoader: the bundled digits,
file formats written here in their real layout."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import (
    DataLoader,
    Dataset,
    TensorDataset,
    cifar10,
    digits,
    fashion_mnist,
    medmnist,
    mnist,
    random_split,
    read_idx,
    synthetic_lesions,
)
from scratchnet.data.transforms import RandomHorizontalFlip

# --------------------------------------------------------------------------- digits


def test_digits_is_bundled_and_split_without_overlap():
    splits = {name: digits(name) for name in ("train", "val", "test")}
    assert [len(d) for d in splits.values()] == [1259, 179, 359]
    assert sum(len(d) for d in splits.values()) == len(digits("all")) == 1797
    for d in splits.values():
        assert d.images.shape[1:] == (1, 8, 8) and d.images.dtype == np.float32
        assert d.images.min() == 0.0 and d.images.max() == 1.0
        assert d.labels.dtype == np.int64 and set(d.labels.tolist()) == set(range(10))
    # no image in two splits (compare the raw bytes of every image)
    keys = [
        {img.tobytes() + bytes([lab]) for img, lab in zip(d.images, d.labels, strict=True)}
        for d in splits.values()
    ]
    assert len(keys[0] & keys[2]) == 0 and len(keys[1] & keys[2]) == 0
    # stratified: every class has about 20% of its images in the test split
    counts = np.bincount(splits["test"].labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_digits_known_first_image():
    images, labels = digits("all").images, digits("all").labels
    assert labels[:5].tolist() == [0, 1, 2, 3, 4]
    # the first row of the "0"
    assert (images[0, 0, 0] * 16).round().tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


# --------------------------------------------------------------------- TensorDataset and DataLoader


def test_tensor_dataset_and_indexing():
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    ds = TensorDataset(sn.tensor(x), y)
    assert len(ds) == 10
    a, b = ds[3]
    assert a.tolist() == [6.0, 7.0] and b == 3
    with pytest.raises(ValueError, match="different lengths"):
        TensorDataset(x, y[:5])


def test_loader_batches_cover_the_dataset_once():
    ds = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=1)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert isinstance(batches[0][0], sn.Tensor) and batches[0][1].dtype == np.int64
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert [len(b[0]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2


def test_loader_order_is_a_function_of_seed_and_epoch():
    ds = TensorDataset(np.arange(50), np.arange(50))
    first = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    epoch0, epoch1 = next(iter(first))[0].numpy(), next(iter(first))[0].numpy()
    assert not np.array_equal(epoch0, epoch1)  # a new order every epoch
    resumed = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    resumed.set_epoch(1)
    np.testing.assert_array_equal(next(iter(resumed))[0].numpy(), epoch1)
    other = DataLoader(ds, batch_size=50, shuffle=True, seed=8)
    assert not np.array_equal(next(iter(other))[0].numpy(), epoch0)


def test_loader_seed_comes_from_manual_seed():
    ds = TensorDataset(np.arange(30), np.arange(30))
    sn.manual_seed(3)
    a = next(iter(DataLoader(ds, batch_size=30, shuffle=True)))[0].numpy()
    sn.manual_seed(3)
    b = next(iter(DataLoader(ds, batch_size=30, shuffle=True)))[0].numpy()
    np.testing.assert_array_equal(a, b)


def test_loader_applies_transform_with_the_epoch_rng():
    images = np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3)
    ds = TensorDataset(images, np.array([0, 1]))
    flip = RandomHorizontalFlip(p=1.0)
    x, _ = next(iter(DataLoader(ds, batch_size=2, transform=flip)))
    np.testing.assert_array_equal(x.numpy(), images[..., ::-1])
    # plain callables work too
    y, _ = next(iter(DataLoader(ds, batch_size=2, transform=lambda a: a * 2)))
    np.testing.assert_array_equal(y.numpy(), images * 2)


def test_loader_over_a_plain_dataset_collates_samples():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2,), i, dtype=np.float32), i * i

    x, y = next(iter(DataLoader(Squares(), batch_size=5)))
    assert x.shape == (5, 2) and y.numpy().tolist() == [0, 1, 4, 9, 16]


def test_random_split_is_a_partition():
    parts = random_split(TensorDataset(np.arange(10), np.arange(10)), [7, 3], seed=0)
    values = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert [len(p) for p in parts] == [7, 3] and values == list(range(10))
    x, _ = next(iter(DataLoader(parts[1], batch_size=3)))
    assert x.numpy().tolist() == [int(parts[1][i][0]) for i in range(3)]  # in the subset's order


# --------------------------------------------------------------------------- MedMNIST


def _write_medmnist(path, rgb, n_labels):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in [("train", 6), ("val", 3), ("test", 4)]:
        shape = (n, 28, 28, 3) if rgb else (n, 28, 28)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(
            0, 2 if n_labels > 1 else 9, (n, n_labels), dtype=np.uint8
        )
    np.savez_compressed(path, **arrays)
    return arrays


def test_medmnist_multiclass_rgb(tmp_path):
    arrays = _write_medmnist(tmp_path / "pathmnist.npz", rgb=True, n_labels=1)
    ds = medmnist("pathmnist", "val", root=tmp_path)
    assert ds.images.shape == (3, 3, 28, 28) and ds.num_classes == 9 and ds.task == "multi-class"
    np.testing.assert_array_equal(ds.images[1, 2], arrays["val_images"][1, :, :, 2])  # HWC -> CHW
    assert ds.labels.shape == (3,) and ds.labels.dtype == np.int64
    x, _ = ds.get_batch(np.array([0, 2]))
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(x[0], arrays["val_images"][0].transpose(2, 0, 1) / 255, rtol=1e-6)


def test_medmnist_chest_is_multilabel(tmp_path):
    arrays = _write_medmnist(tmp_path / "chestmnist.npz", rgb=False, n_labels=14)
    ds = medmnist("chestmnist", "test", root=tmp_path)
    assert ds.images.shape == (4, 1, 28, 28) and ds.task == "multi-label"
    assert ds.labels.shape == (4, 14) and ds.labels.dtype == np.float32
    np.testing.assert_array_equal(ds.labels, arrays["test_labels"])
    assert ds.classes[0] == "atelectasis" and len(ds.classes) == 14


def test_medmnist_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dermamnist_64\.npz.*zenodo"):
        medmnist("dermamnist", root=tmp_path, size=64)
    with pytest.raises(ValueError, match="unknown dataset"):
        medmnist("kneemnist", root=tmp_path)


# --------------------------------------------------------------------------- MNIST idx


def _write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    opener = gzip.open if compress else open
    with opener(path, "wb") as file:
        file.write(header + array.tobytes())


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, compress)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, compress)
    ds = mnist("test", root=tmp_path)
    assert ds.images.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(ds.images[:, 0], images)
    assert ds.labels.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(read_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}"), labels)


def test_fashion_mnist_in_torchvision_layout_and_missing(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write_idx(raw / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8), False)
    _write_idx(raw / "train-labels-idx1-ubyte", np.array([9, 0], np.uint8), False)
    ds = fashion_mnist("train", root=tmp_path)
    assert ds.classes[ds.labels[0]] == "Ankle boot"
    with pytest.raises(FileNotFoundError, match="zalandoresearch"):
        fashion_mnist("test", root=tmp_path)


# --------------------------------------------------------------------------- CIFAR-10


def _cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"testing batch",
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def test_cifar10_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_cifar_batch(4, seed) for seed in range(6)]
    for i, batch in enumerate(batches[:5]):
        (folder / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(batches[5], protocol=2))
    train, test = cifar10("train", root=tmp_path), cifar10("test", root=tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4
    # R, G, B planes
    np.testing.assert_array_equal(train.images[4].reshape(-1), batches[1][b"data"][0])
    assert test.labels.tolist() == batches[5][b"labels"]


def test_cifar10_binary_and_missing(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    records = np.random.default_rng(0).integers(0, 256, (3, 3073), dtype=np.uint8)
    records[:, 0] = [7, 0, 9]
    (folder / "test_batch.bin").write_bytes(records.tobytes())
    ds = cifar10("test", root=tmp_path)
    assert ds.labels.tolist() == [7, 0, 9] and ds.classes[7] == "horse"
    np.testing.assert_array_equal(ds.images[2].reshape(-1), records[2, 1:])
    with pytest.raises(FileNotFoundError, match=r"cs\.toronto\.edu"):
        cifar10("train", root=tmp_path)


def test_cifar10_loader_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*print"):
        cifar10("test", root=tmp_path)


# --------------------------------------------------------------------------- synthetic lesions


def test_synthetic_lesions():
    ds = synthetic_lesions(num_samples=40, size=24, num_classes=4, seed=1)
    assert ds.images.shape == (40, 1, 24, 24) and ds.images.dtype == np.float32
    assert 0 <= ds.images.min() and ds.images.max() <= 1
    assert np.bincount(ds.labels).tolist() == [10, 10, 10, 10]
    healthy = ds.labels == 0
    assert not ds.masks[healthy].any() and ds.masks[~healthy].any(axis=(1, 2)).all()
    # lesions are bright: inside the mask the image is brighter than outside
    i = int(np.flatnonzero(ds.labels == 1)[0])
    assert ds.images[i, 0][ds.masks[i]].mean() > ds.images[i, 0][~ds.masks[i]].mean() + 0.1
    again = synthetic_lesions(num_samples=40, size=24, num_classes=4, seed=1)
    np.testing.assert_array_equal(ds.images, again.images)
    assert synthetic_lesions(8, size=64, num_classes=2, channels=3).images.shape == (8, 3, 64, 64)
    with pytest.raises(ValueError, match="num_classes"):
        synthetic_lesions(num_classes=7)
