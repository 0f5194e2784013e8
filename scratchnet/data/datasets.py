"""Real and synthetic image datasets, read from the files their publishers ship. Nothing downloads.

* ``digits``: the UCI handwritten digits (1,797 images of 8x8), bundled with scratchnet, so every
  demo works offline out of the box.
* ``medmnist``: the MedMNIST collection (PathMNIST, ChestMNIST, DermaMNIST ...): medical images at
  28x28 (and 64/128/224 in MedMNIST+), one ``.npz`` per dataset with ``train_images``,
  ``train_labels``, ``val_images`` ... ChestMNIST is multi-label: 14 findings per X-ray.
* ``mnist`` / ``fashion_mnist``: the idx files (gzipped or not).
* ``cifar10``: the "python version" batches (read with a pickle loader that only accepts plain
  arrays, lists and strings, never code), or the binary version.
* ``synthetic_lesions``: generated images of blob "lesions" on noisy tissue-like backgrounds, any
  size, with the lesion masks: fast, controllable, and Grad-CAM can be checked against the masks.

Each returns an ``ImageDataset`` with images (N, C, H, W), labels, class names and the task. A file
that is missing gives an error that says where to download it and where to put it.

Files from elsewhere are checked, not trusted: each is opened only if it is a regular file (a FIFO
or a directory is refused), a truncated file or one with trailing bytes, a missing array, a wrong
shape, a label outside the classes or not a whole number, and a NaN or infinite pixel each give a
``ValueError`` that names the file. Compressed files (MedMNIST's ``.npz``, gzipped idx files) may
expand to at most ``max_expansion`` times their size on disk (default 100, checked from their
headers before anything is decompressed; see ``scratchnet.io.files``): a 389 KB file that would
become 400 MB of zeros is refused, real data sets expand 1 to 3 times.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import pickle
import zlib
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from scratchnet.data.dataset import ImageDataset
from scratchnet.io.files import check_expansion, describe_start, open_regular_file, read_npz

DATA_HOME_ENV = "SCRATCHNET_DATA"
_BUNDLED = Path(__file__).parent


def data_home() -> Path:
    """Where downloaded datasets are looked for: ``$SCRATCHNET_DATA`` or ``~/.scratchnet/data``."""
    return Path(os.environ.get(DATA_HOME_ENV, Path.home() / ".scratchnet" / "data"))


# --------------------------------------------------------------------------- digits (bundled)


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    # 1,797 rows of 64 pixel counts (0..16: on-pixels in a 4x4 block of a 32x32 bitmap) + the label.
    table = np.loadtxt(_BUNDLED / "digits.csv.gz", delimiter=",", dtype=np.int64)
    images = (
        (table[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    )  # (1797, 1, 8, 8) in [0, 1]
    return images, table[:, 64]


def digits(
    split: str = "train", val_fraction: float = 0.1, test_fraction: float = 0.2
) -> ImageDataset:
    """The UCI optical handwritten digits (Alpaydin & Kaynak 1998):
    1,797 grey 8x8 images, 10 classes.

    The split is fixed (stratified by class, seed 0): with the default fractions 1,259 train, 179
    val and 359 test images, the same on every machine, so test accuracies are comparable.

    Parameters
    ----------
    split : "train", "val", "test" or "all"
    val_fraction, test_fraction : float
        Share of each class held out for validation and for testing.
    """
    images, labels = _digits_arrays()
    rng = np.random.default_rng(0)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test, n_val = round(test_fraction * len(members)), round(val_fraction * len(members))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    if split == "all":
        chosen = np.arange(len(labels))
    elif split in parts:
        chosen = np.sort(np.concatenate(parts[split]))
    else:
        raise ValueError(f"digits: unknown split {split!r}; use 'train', 'val', 'test' or 'all'")
    return ImageDataset(
        images[chosen], labels[chosen], [str(d) for d in range(10)], name=f"digits-{split}"
    )


# --------------------------------------------------------------------------- MedMNIST

MEDMNIST_URL = "https://zenodo.org/records/10519652"  # MedMNIST+ (v3): every dataset and size

# flag: (channels, task, class or label names). From
# the MedMNIST v2 paper (Yang et al. 2023), Table 1.
MEDMNIST_INFO: dict[str, tuple[int, str, list[str]]] = {
    "pathmnist": (
        3,
        "multi-class",
        [
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ],
    ),
    "chestmnist": (
        1,
        "multi-label",
        [
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
        ],
    ),
    "dermamnist": (
        3,
        "multi-class",
        [
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ],
    ),
    "octmnist": (
        1,
        "multi-class",
        ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
    ),
    "pneumoniamnist": (1, "binary-class", ["normal", "pneumonia"]),
    "retinamnist": (3, "ordinal-regression", ["0", "1", "2", "3", "4"]),
    "breastmnist": (1, "binary-class", ["malignant", "normal, benign"]),
    "bloodmnist": (
        3,
        "multi-class",
        [
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ],
    ),
    "tissuemnist": (
        1,
        "multi-class",
        [
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
        ],
    ),
    "organamnist": (
        1,
        "multi-class",
        [
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ],
    ),
}
MEDMNIST_INFO["organcmnist"] = MEDMNIST_INFO["organsmnist"] = MEDMNIST_INFO["organamnist"]


def medmnist(
    flag: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    size: int = 28,
    max_expansion: float | None = None,
) -> ImageDataset:
    """One split of a MedMNIST dataset, from the ``.npz`` file MedMNIST distributes.

    Parameters
    ----------
    flag : str
        ``"pathmnist"``, ``"chestmnist"``, ``"dermamnist"``, ... (see ``MEDMNIST_INFO``).
    split : "train", "val" or "test"
    root : path, optional
        Folder holding ``<flag>.npz`` (``<flag>_<size>.npz`` for sizes 64, 128, 224); default
        ``data_home()``.
    size : 28, 64, 128 or 224
    max_expansion : float, optional
        How many times its size on disk the archive may expand to; default
        ``scratchnet.io.files.MAX_EXPANSION`` (100). Real MedMNIST files expand about 1.2 times.

    Returns
    -------
    ImageDataset
        uint8 images (N, C, size, size). Labels: class indices (N,) int64; for the multi-label
        ChestMNIST, (N, 14) float32 of 0/1 (one binary finding per column, for a sigmoid +
        binary cross-entropy head).

    Raises
    ------
    FileNotFoundError
        The archive is missing (the message says where to download it).
    ValueError
        Naming the file: not a readable ``.npz``, a missing ``<split>_images`` or
        ``<split>_labels``, images not (N, size, size) or (N, size, size, C) with the dataset's
        channels, labels not one per image, outside the classes or not whole numbers, NaN pixels,
        an archive past the expansion limit.
    """
    flag = flag.lower()
    if flag not in MEDMNIST_INFO:
        raise ValueError(f"medmnist: unknown dataset {flag!r}; choose from {sorted(MEDMNIST_INFO)}")
    if split not in ("train", "val", "test"):
        raise ValueError(f"medmnist: unknown split {split!r}; use 'train', 'val' or 'test'")
    filename = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    path = Path(root) if root is not None else data_home()
    path = path if path.suffix == ".npz" else path / filename
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. MedMNIST is not bundled with scratchnet: download {filename} from "
            f"{MEDMNIST_URL} (or https://medmnist.com) and put "
            f"it in {path.parent}, or pass root=<its folder>."
        )
    channels, task, names = MEDMNIST_INFO[flag]
    keys = [f"{split}_images", f"{split}_labels"]
    arrays = read_npz(path, "MedMNIST archive", keys, max_expansion=max_expansion)
    images, labels = arrays[keys[0]], arrays[keys[1]]
    source = f"medmnist: {keys[0]} of {path}"
    # per image, as MedMNIST stores it
    expected = (size, size) if channels == 1 else (size, size, channels)
    if images.shape[1:] not in [expected, (size, size, channels)]:
        needed = ", ".join(map(str, expected))
        raise ValueError(
            f"{source} has shape {images.shape}; {flag} at size {size} needs (N, {needed})"
        )
    images = _checked_pixels(images, source)
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W)
    source = f"medmnist: {keys[1]} of {path}"
    if task == "multi-label":
        if labels.shape != (len(images), len(names)):
            raise ValueError(
                f"{source} has shape {labels.shape}; {flag} needs ({len(images)}, {len(names)}): "
                f"one 0/1 column per finding for each of the {len(images)} images"
            )
        _check_whole_numbers(labels, source, 0, 1)
        labels = labels.astype(np.float32)  # (N, 14) of 0/1
    else:
        if labels.shape not in [(len(images),), (len(images), 1)]:
            raise ValueError(
                f"{source} has shape {labels.shape}; {flag} needs one class index per image: "
                f"({len(images)}, 1) or ({len(images)},)"
            )
        _check_whole_numbers(labels, source, 0, len(names) - 1)
        labels = labels.reshape(len(labels)).astype(np.int64)  # (N, 1) -> (N,)
    return ImageDataset(
        np.ascontiguousarray(images), labels, names, task=task, name=f"{flag}-{split}"
    )


# --------------------------------------------------------------------------- MNIST, Fashion-MNIST

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike, max_expansion: float | None = None) -> np.ndarray:
    """Read an idx file (LeCun's MNIST format), gzipped (``.gz``) or not.

    Layout: two zero bytes, a dtype code, the number of dimensions, then each dimension as a
    big-endian uint32, then the data in C order. The file must hold exactly the bytes its header
    declares: fewer (truncated) or more (trailing bytes) is an error naming the file, as it is in
    torchvision. A gzipped file may expand to at most ``max_expansion`` times its size on disk
    (default ``scratchnet.io.files.MAX_EXPANSION``), checked from the header before the data are
    decompressed.
    """
    path = Path(path)
    with open_regular_file(path, "idx file") as raw_file:
        on_disk = os.fstat(raw_file.fileno()).st_size
        if path.suffix != ".gz":
            return _read_idx_stream(raw_file, path, on_disk, None, max_expansion)
        try:
            with gzip.GzipFile(fileobj=raw_file) as file:
                return _read_idx_stream(file, path, on_disk, on_disk, max_expansion)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path} is truncated or not a gzipped idx file ({error})") from None


def _read_idx_stream(
    file: BinaryIO, path: Path, on_disk: int, compressed: int | None, max_expansion: float | None
) -> np.ndarray:
    """The array of an idx stream; ``compressed``: the size on disk of a gzipped one, else None."""
    head = file.read(4)
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (MNIST's format): {describe_start(head)}")
    dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
    dims = file.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"idx file {path} is truncated: it ends inside its header ({ndim} dimensions declared)"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    expected = 4 + 4 * ndim + math.prod(shape) * dtype.itemsize
    if compressed is None and on_disk != expected:
        problem = (
            "is truncated" if on_disk < expected else f"has {on_disk - expected:,} trailing bytes"
        )
        raise ValueError(
            f"idx file {path} {problem}: its header declares shape {shape} of {dtype} "
            f"({expected:,} bytes with the header), the file has {on_disk:,}"
        )
    if compressed is not None:
        check_expansion(expected, compressed, path, "idx file", max_expansion)
    data = file.read(expected - 4 - 4 * ndim)  # at most what the header declares: never more
    if len(data) < expected - 4 - 4 * ndim or file.read(1):
        problem = "is truncated" if len(data) < expected - 4 - 4 * ndim else "has trailing bytes"
        raise ValueError(f"idx file {path} {problem}: its header declares shape {shape} of {dtype}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, names: list[str], hint: str) -> Path:
    for name in names:
        for candidate in (root / name, root / (name + ".gz")):
            if candidate.exists():
                return candidate
    raise FileNotFoundError(f"{root / names[0]} (or .gz) not found. {hint}")


def _idx_dataset(
    name: str,
    root: str | os.PathLike | None,
    split: str,
    classes: list[str],
    url: str,
    max_expansion: float | None,
) -> ImageDataset:
    if split not in ("train", "test"):
        raise ValueError(f"{name}: unknown split {split!r}; use 'train' or 'test'")
    base = Path(root) if root is not None else data_home() / name
    prefix = "train" if split == "train" else "t10k"
    hint = f"{name} is not bundled: download the four idx files from {url} and put them in {base}."
    folders = [base, base / "raw"]  # torchvision keeps them in <root>/<Name>/raw
    for folder in folders:
        try:
            image_path = _find(folder, [f"{prefix}-images-idx3-ubyte"], hint)
            label_path = _find(folder, [f"{prefix}-labels-idx1-ubyte"], hint)
            break
        except FileNotFoundError:
            if folder is folders[-1]:
                raise
    images, labels = read_idx(image_path, max_expansion), read_idx(label_path, max_expansion)
    if images.ndim != 3:
        raise ValueError(
            f"{name}: {image_path} holds an array of shape {images.shape}, not images (N, H, W)"
        )
    if labels.shape != (len(images),):
        raise ValueError(
            f"{name}: {label_path} holds labels of shape {labels.shape}, but {image_path} "
            f"holds {len(images)} images: one label per image needed"
        )
    images = _checked_pixels(images, f"{name}: {image_path}")
    _check_whole_numbers(labels, f"{name}: {label_path}", 0, len(classes) - 1)
    return ImageDataset(images[:, None], labels.astype(np.int64), classes, name=f"{name}-{split}")


def mnist(
    split: str = "train", root: str | os.PathLike | None = None, max_expansion: float | None = None
) -> ImageDataset:
    """MNIST (LeCun et al. 1998): 60,000 train / 10,000 test grey 28x28 digits, from the idx files.

    The files are checked (see ``read_idx``): exactly the bytes their headers declare, images
    (N, H, W), one label 0..9 per image, no NaN pixels; ``max_expansion`` limits how far a gzipped
    file may expand (default ``scratchnet.io.files.MAX_EXPANSION``, 100 times its size on disk).
    """
    url = "https://ossci-datasets.s3.amazonaws.com/mnist/ (the mirror torchvision uses)"
    return _idx_dataset("mnist", root, split, [str(d) for d in range(10)], url, max_expansion)


def fashion_mnist(
    split: str = "train", root: str | os.PathLike | None = None, max_expansion: float | None = None
) -> ImageDataset:
    """Fashion-MNIST (Xiao et al. 2017):
    MNIST's format with 10 kinds of clothing (checked as ``mnist``'s).
    """
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    url = "https://github.com/zalandoresearch/fashion-mnist"
    return _idx_dataset("fashion-mnist", root, split, classes, url, max_expansion)


# --------------------------------------------------------------------------- CIFAR-10

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays, and refuses anything else.

    A pickle can name any Python callable to run while it loads; this one looks up only the few
    that rebuild a NumPy array, so a tampered file raises instead of running code.
    """

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def __init__(self, file: BinaryIO, path: Path) -> None:
        # bytes keys (b"data"), as the batches were written in Python 2
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise _CodeRefusedError(
                f"{self.path}: refusing to load {module}.{name} from a CIFAR batch file (a pickle "
                "that names it would run code; real CIFAR batches hold arrays only)"
            )
        return super().find_class(module, name)


class _CodeRefusedError(pickle.UnpicklingError):
    """A CIFAR batch that names a callable other than NumPy's array rebuilders."""


_CIFAR_PIXELS = 3 * 32 * 32  # one row of a batch: the R, G and B planes of a 32x32 image


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open_regular_file(path, "CIFAR-10 batch") as file:
        head = file.read(8)
        file.seek(0)
        try:
            batch = _ArraysOnlyUnpickler(file, path).load()
        except _CodeRefusedError:
            raise
        except Exception as error:
            # a damaged pickle raises nearly anything (EOFError, KeyError ...)
            detail = (
                f"{type(error).__name__}: {error}"
                if head.startswith(b"\x80")
                else describe_start(head)
            )
            raise ValueError(
                f"{path} is truncated or not a CIFAR-10 python batch ({detail})"
            ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        # keys may mix str and bytes
        keys = list(batch)[:8] if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch: it needs the entries b'data' and "
            f"b'labels', it holds {keys}"
        )
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != _CIFAR_PIXELS:
        shape = data.shape if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(
            f"cifar10: b'data' of {path} is {shape}; a "
            f"CIFAR-10 batch holds (N, {_CIFAR_PIXELS}) pixels"
        )
    if not isinstance(labels, list | np.ndarray) or len(labels) != len(data):
        count = len(labels) if isinstance(labels, list | np.ndarray) else type(labels).__name__
        raise ValueError(
            f"cifar10: b'labels' of {path} holds {count} labels for {len(data)} images"
        )
    if isinstance(labels, list) and not all(isinstance(x, int | np.integer) for x in labels):
        wrong = next(x for x in labels if not isinstance(x, int | np.integer))
        raise ValueError(
            f"cifar10: b'labels' of {path} holds {wrong!r}, not a class index (a whole number)"
        )
    labels = np.asarray(labels)
    _check_whole_numbers(labels, f"cifar10: b'labels' of {path}", 0, len(CIFAR10_CLASSES) - 1)
    # rows of R, G, B planes
    images = _checked_pixels(data, f"cifar10: b'data' of {path}").reshape(-1, 3, 32, 32)
    return images, labels.astype(np.int64)


def _read_cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    record = 1 + _CIFAR_PIXELS  # a label byte, then the pixels
    with open_regular_file(path, "CIFAR-10 binary batch") as file:
        raw = file.read()
    if not raw or len(raw) % record:
        raise ValueError(
            f"{path} is truncated or has trailing bytes: {len(raw):,} bytes is not a whole number "
            f"of {record:,}-byte records (1 label byte + {_CIFAR_PIXELS:,} pixel bytes)"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, record)  # (N, 3073)
    labels = records[:, 0].astype(np.int64)
    _check_whole_numbers(labels, f"cifar10: {path}", 0, len(CIFAR10_CLASSES) - 1)
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def cifar10(split: str = "train", root: str | os.PathLike | None = None) -> ImageDataset:
    """CIFAR-10 (Krizhevsky 2009): 50,000 train / 10,000 test colour 32x32 images in 10 classes.

    Reads ``cifar-10-batches-py`` (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) or the
    binary version ``cifar-10-batches-bin`` (``data_batch_1.bin`` ..., ``test_batch.bin``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"cifar10: unknown split {split!r}; use 'train' or 'test'")
    base = Path(root) if root is not None else data_home()
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    for folder, suffix, reader in [
        (base / "cifar-10-batches-py", "", _read_cifar_batch),
        (base, "", _read_cifar_batch),
        (base / "cifar-10-batches-bin", ".bin", _read_cifar_binary),
    ]:
        paths = [folder / (name + suffix) for name in names]
        if all(p.exists() for p in paths):
            parts = [reader(p) for p in paths]
            images = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            return ImageDataset(images, labels, CIFAR10_CLASSES, name=f"cifar10-{split}")
    raise FileNotFoundError(
        f"CIFAR-10 not found in {base}. It is not bundled: download cifar-10-python.tar.gz from "
        f"https://www.cs.toronto.edu/~kriz/cifar.html and unpack it in {base} (giving "
        f"{base / 'cifar-10-batches-py'})."
    )


# --------------------------------------------------------------------- checks shared by the loaders


def _checked_pixels(images: np.ndarray, source: str) -> np.ndarray:
    """Images as stored (uint8, or float), after checking they are pixel values: no NaN, no text."""
    if images.dtype.kind == "f":
        bad = ~np.isfinite(images)
        if bad.any():
            first = np.unravel_index(np.argmax(bad), images.shape)[0]
            count = int(bad.sum())
            raise ValueError(
                f"{source} has {count:,} NaN or infinite pixel values (the first in image {first})"
            )
        return images
    if images.dtype.kind not in "iu":
        raise ValueError(f"{source} holds {images.dtype} values, not pixels (uint8 or float)")
    if images.dtype != np.uint8:
        _check_whole_numbers(images, source, 0, 255, what="pixel value")
        images = images.astype(np.uint8)
    return images


def _check_whole_numbers(
    values: np.ndarray, source: str, low: int, high: int, what: str = "label"
) -> None:
    """Every value an integer in ``low..high``: a class index, a 0/1 finding or a uint8 pixel."""
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{source} holds {values.dtype} values, not {what}s (whole numbers)")
    if values.dtype.kind == "f" and values.size:
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            value = values[bad].flat[0]
            raise ValueError(
                f"{source}: {what} {value} is not a whole number ({what}s are {low}..{high})"
            )
    outside = (values < low) | (values > high)
    if outside.any():
        index = np.unravel_index(np.argmax(outside), values.shape)[0]
        raise ValueError(
            f"{source}: {what} {values[outside].flat[0]} (at row {index}) is outside {low}..{high}"
        )


# --------------------------------------------------------------------------- synthetic lesions

LESION_CLASSES = ["healthy", "round lesion", "elongated lesion", "ring lesion"]


def synthetic_lesions(
    num_samples: int = 1000,
    size: int = 32,
    num_classes: int = 4,
    channels: int = 1,
    noise: float = 0.15,
    seed: int = 0,
) -> ImageDataset:
    """Tissue-like noisy images, some with a bright "lesion" whose shape is the class.

    Classes (the first ``num_classes`` of): 0 healthy (no lesion), 1 round lesion (a Gaussian
    blob), 2 elongated lesion (a thin rotated ellipse), 3 ring lesion (a bright rim round a dark
    core). Every image also has a "vessel", a bright curve that says nothing about the class, so a
    classifier has to look at the lesion, which Grad-CAM can then confirm: the lesion masks are in
    ``dataset.masks`` (N, H, W) bool (all False for a healthy image).

    Parameters
    ----------
    num_samples : int
        Number of images, the classes in equal turns.
    size : int
        Height and width in pixels (anything from 8 up).
    num_classes : int
        2 to 4.
    channels : int
        1, or 3 for a tinted colour version.
    noise : float
        Strength of the background texture relative to the lesion contrast.
    seed : int
        Same seed, same images.
    """
    if not 2 <= num_classes <= 4:
        raise ValueError(f"synthetic_lesions: num_classes must be 2, 3 or 4, got {num_classes}")
    if size < 8:
        raise ValueError(f"synthetic_lesions: size must be at least 8, got {size}")
    rng = np.random.default_rng(seed)
    labels = np.arange(num_samples) % num_classes
    rng.shuffle(labels)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)  # (H, W) pixel coordinates
    images = np.empty((num_samples, channels, size, size), dtype=np.float32)
    masks = np.zeros((num_samples, size, size), dtype=bool)
    for i, label in enumerate(labels):
        image = 0.5 + noise * _texture(rng, size)
        image += 0.4 * _vessel(rng, rows, cols, size)
        if label > 0:
            lesion, masks[i] = _lesion(rng, int(label), rows, cols, size)
            image += rng.uniform(0.8, 1.2) * lesion
        image = np.clip(image / 2, 0, 1)  # about 0.25 background, lesions up to 1
        if channels == 3:  # an H&E-like pink tint: the same structure in every channel, scaled
            images[i] = image[None] * np.array([0.95, 0.6, 0.8], dtype=np.float32)[:, None, None]
        else:
            images[i] = image[None].repeat(channels, axis=0)
    dataset = ImageDataset(
        images, labels.astype(np.int64), LESION_CLASSES[:num_classes], name="synthetic-lesions"
    )
    dataset.masks = masks
    return dataset


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random texture with zero mean and unit spread: white noise blurred by a box filter."""
    # blur radius grows with the image, so the texture looks alike at any size
    k = max(1, size // 10)
    noise = rng.standard_normal((size + 2 * k, size + 2 * k)).astype(np.float32)
    noise = _box_blur(_box_blur(noise, k, axis=0), k, axis=1)  # (size, size): separable 2-D blur
    return noise / (noise.std() + 1e-6)


def _box_blur(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mean over windows of 2k+1 along ``axis``
    ("valid": the axis shrinks by 2k), by running sums.
    """
    summed = np.cumsum(a, axis=axis)
    # S[0] = 0
    summed = np.concatenate([np.zeros_like(summed.take([0], axis=axis)), summed], axis=axis)
    n = 2 * k + 1
    length = summed.shape[axis]
    return (
        summed.take(range(n, length), axis=axis) - summed.take(range(0, length - n), axis=axis)
    ) / n


def _vessel(rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """A thin bright curve across the image (a sine wave at a random angle)."""
    angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    u = (cols - size / 2) * np.cos(angle) + (rows - size / 2) * np.sin(angle)
    v = -(cols - size / 2) * np.sin(angle) + (rows - size / 2) * np.cos(angle)
    centre = 0.25 * size * np.sin(2 * np.pi * u / size + phase)
    return np.exp(-(((v - centre) / (0.04 * size + 0.5)) ** 2))


def _lesion(
    rng: np.random.Generator, label: int, rows: np.ndarray, cols: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The intensity of one lesion of the given class and its mask."""
    radius = rng.uniform(0.15, 0.22) * size
    margin = 1.5 * radius + 1  # keeps the whole lesion (an ellipse reaches 1.4 radii) inside
    cy, cx = rng.uniform(margin, size - margin, 2)
    dy, dx = rows - cy, cols - cx
    if label == 1:  # round: a Gaussian blob
        r = np.hypot(dy, dx) / radius
        intensity = np.exp(-2 * r**2)
    elif label == 2:  # elongated: a thin ellipse at a random angle
        angle = rng.uniform(0, np.pi)
        a = (dx * np.cos(angle) + dy * np.sin(angle)) / (1.4 * radius)
        b = (-dx * np.sin(angle) + dy * np.cos(angle)) / (0.6 * radius)
        r = np.hypot(a, b)
        intensity = np.exp(-2 * r**2)
    else:  # ring: bright rim round a dark core
        r = np.hypot(dy, dx) / radius
        intensity = np.exp(-(((r - 0.8) / 0.25) ** 2)) - 0.3 * np.exp(-2 * r**2)
    return intensity.astype(np.float32), r < 1.1
