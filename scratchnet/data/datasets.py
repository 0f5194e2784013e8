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
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scratchnet.data.dataset import ImageDataset

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
    images = (table[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8) in [0, 1]
    return images, table[:, 64]


def digits(split: str = "train", val_fraction: float = 0.1, test_fraction: float = 0.2) -> ImageDataset:
    """The UCI optical handwritten digits (Alpaydin & Kaynak 1998): 1,797 grey 8x8 images, 10 classes.

    The split is fixed (stratified by class, seed 0): with the default fractions 1,259 train, 179 val
    and 359 test images, the same on every machine, so test accuracies are comparable.

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
    return ImageDataset(images[chosen], labels[chosen], [str(d) for d in range(10)], name=f"digits-{split}")


# --------------------------------------------------------------------------- MedMNIST

MEDMNIST_URL = "https://zenodo.org/records/10519652"  # MedMNIST+ (v3): every dataset and size

# flag: (channels, task, class or label names). From the MedMNIST v2 paper (Yang et al. 2023), Table 1.
MEDMNIST_INFO: dict[str, tuple[int, str, list[str]]] = {
    "pathmnist": (3, "multi-class", ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
                                     "normal colon mucosa", "cancer-associated stroma",
                                     "colorectal adenocarcinoma epithelium"]),
    "chestmnist": (1, "multi-label", ["atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule",
                                      "pneumonia", "pneumothorax", "consolidation", "edema", "emphysema",
                                      "fibrosis", "pleural", "hernia"]),
    "dermamnist": (3, "multi-class", ["actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                                      "benign keratosis-like lesions", "dermatofibroma", "melanoma",
                                      "melanocytic nevi", "vascular lesions"]),
    "octmnist": (1, "multi-class", ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"]),
    "pneumoniamnist": (1, "binary-class", ["normal", "pneumonia"]),
    "retinamnist": (3, "ordinal-regression", ["0", "1", "2", "3", "4"]),
    "breastmnist": (1, "binary-class", ["malignant", "normal, benign"]),
    "bloodmnist": (3, "multi-class", ["basophil", "eosinophil", "erythroblast", "immature granulocytes",
                                      "lymphocyte", "monocyte", "neutrophil", "platelet"]),
    "tissuemnist": (1, "multi-class", ["Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
                                       "Glomerular endothelial cells", "Interstitial endothelial cells",
                                       "Leukocytes", "Podocytes", "Proximal Tubule Segments",
                                       "Thick Ascending Limb"]),
    "organamnist": (1, "multi-class", ["bladder", "femur-left", "femur-right", "heart", "kidney-left",
                                       "kidney-right", "liver", "lung-left", "lung-right", "pancreas", "spleen"]),
}  # fmt: skip
MEDMNIST_INFO["organcmnist"] = MEDMNIST_INFO["organsmnist"] = MEDMNIST_INFO["organamnist"]


def medmnist(flag: str, split: str = "train", root: str | os.PathLike | None = None, size: int = 28) -> ImageDataset:
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

    Returns
    -------
    ImageDataset
        uint8 images (N, C, size, size). Labels: class indices (N,) int64; for the multi-label
        ChestMNIST, (N, 14) float32 of 0/1 (one binary finding per column, for a sigmoid +
        binary cross-entropy head).
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
            f"{MEDMNIST_URL} (or https://medmnist.com) and put it in {path.parent}, or pass root=<its folder>."
        )
    _, task, names = MEDMNIST_INFO[flag]
    with np.load(path, allow_pickle=False) as npz:
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W)
    if task == "multi-label":
        labels = labels.astype(np.float32)  # (N, 14) of 0/1
    else:
        labels = labels.reshape(len(labels)).astype(np.int64)  # (N, 1) -> (N,)
    return ImageDataset(np.ascontiguousarray(images), labels, names, task=task, name=f"{flag}-{split}")


# --------------------------------------------------------------------------- MNIST, Fashion-MNIST

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (LeCun's MNIST format), gzipped or not.

    Layout: two zero bytes, a dtype code, the number of dimensions, then each dimension as a
    big-endian uint32, then the data in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        raw = file.read()
    if raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (magic bytes {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    return data.reshape(shape).astype(np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder("="))


def _find(root: Path, names: list[str], hint: str) -> Path:
    for name in names:
        for candidate in (root / name, root / (name + ".gz")):
            if candidate.exists():
                return candidate
    raise FileNotFoundError(f"{root / names[0]} (or .gz) not found. {hint}")


def _idx_dataset(name: str, root: str | os.PathLike | None, split: str, classes: list[str], url: str) -> ImageDataset:
    if split not in ("train", "test"):
        raise ValueError(f"{name}: unknown split {split!r}; use 'train' or 'test'")
    base = Path(root) if root is not None else data_home() / name
    prefix = "train" if split == "train" else "t10k"
    hint = f"{name} is not bundled: download the four idx files from {url} and put them in {base}."
    folders = [base, base / "raw"]  # torchvision keeps them in <root>/<Name>/raw
    for folder in folders:
        try:
            images = read_idx(_find(folder, [f"{prefix}-images-idx3-ubyte"], hint))
            labels = read_idx(_find(folder, [f"{prefix}-labels-idx1-ubyte"], hint))
            break
        except FileNotFoundError:
            if folder is folders[-1]:
                raise
    return ImageDataset(images[:, None], labels.astype(np.int64), classes, name=f"{name}-{split}")


def mnist(split: str = "train", root: str | os.PathLike | None = None) -> ImageDataset:
    """MNIST (LeCun et al. 1998): 60,000 train / 10,000 test grey 28x28 digits, from the idx files."""
    url = "https://ossci-datasets.s3.amazonaws.com/mnist/ (the mirror torchvision uses)"
    return _idx_dataset("mnist", root, split, [str(d) for d in range(10)], url)


def fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> ImageDataset:
    """Fashion-MNIST (Xiao et al. 2017): MNIST's format with 10 kinds of clothing."""
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]  # fmt: skip
    url = "https://github.com/zalandoresearch/fashion-mnist"
    return _idx_dataset("fashion-mnist", root, split, classes, url)


# --------------------------------------------------------------------------- CIFAR-10

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays, and refuses anything else.

    A pickle can name any Python callable to run while it loads; this one looks up only the few
    that rebuild a NumPy array, so a tampered file raises instead of running code.
    """

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }  # fmt: skip

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch file")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as file:
        batch = _ArraysOnlyUnpickler(file, encoding="bytes").load()
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)  # rows of R, G, B planes
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def _read_cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, 1 + 3 * 32 * 32)  # label byte + pixels
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def cifar10(split: str = "train", root: str | os.PathLike | None = None) -> ImageDataset:
    """CIFAR-10 (Krizhevsky 2009): 50,000 train / 10,000 test colour 32x32 images in 10 classes.

    Reads ``cifar-10-batches-py`` (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) or the
    binary version ``cifar-10-batches-bin`` (``data_batch_1.bin`` ..., ``test_batch.bin``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"cifar10: unknown split {split!r}; use 'train' or 'test'")
    base = Path(root) if root is not None else data_home()
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    for folder, suffix, reader in [(base / "cifar-10-batches-py", "", _read_cifar_batch),
                                   (base, "", _read_cifar_batch),
                                   (base / "cifar-10-batches-bin", ".bin", _read_cifar_binary)]:  # fmt: skip
        paths = [folder / (name + suffix) for name in names]
        if all(p.exists() for p in paths):
            parts = [reader(p) for p in paths]
            images = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            return ImageDataset(images, labels, CIFAR10_CLASSES, name=f"cifar10-{split}")
    raise FileNotFoundError(
        f"CIFAR-10 not found in {base}. It is not bundled: download cifar-10-python.tar.gz from "
        f"https://www.cs.toronto.edu/~kriz/cifar.html and unpack it in {base} (giving {base / 'cifar-10-batches-py'})."
    )


# --------------------------------------------------------------------------- synthetic lesions

LESION_CLASSES = ["healthy", "round lesion", "elongated lesion", "ring lesion"]


def synthetic_lesions(num_samples: int = 1000, size: int = 32, num_classes: int = 4, channels: int = 1,
                      noise: float = 0.15, seed: int = 0) -> ImageDataset:  # fmt: skip
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
    dataset = ImageDataset(images, labels.astype(np.int64), LESION_CLASSES[:num_classes], name="synthetic-lesions")
    dataset.masks = masks
    return dataset


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random texture with zero mean and unit spread: white noise blurred by a box filter."""
    k = max(1, size // 10)  # blur radius grows with the image, so the texture looks alike at any size
    noise = rng.standard_normal((size + 2 * k, size + 2 * k)).astype(np.float32)
    noise = _box_blur(_box_blur(noise, k, axis=0), k, axis=1)  # (size, size): separable 2-D blur
    return noise / (noise.std() + 1e-6)


def _box_blur(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mean over windows of 2k+1 along ``axis`` ("valid": the axis shrinks by 2k), by running sums."""
    summed = np.cumsum(a, axis=axis)
    summed = np.concatenate([np.zeros_like(summed.take([0], axis=axis)), summed], axis=axis)  # S[0] = 0
    n = 2 * k + 1
    length = summed.shape[axis]
    return (summed.take(range(n, length), axis=axis) - summed.take(range(0, length - n), axis=axis)) / n


def _vessel(rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """A thin bright curve across the image (a sine wave at a random angle)."""
    angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    u = (cols - size / 2) * np.cos(angle) + (rows - size / 2) * np.sin(angle)
    v = -(cols - size / 2) * np.sin(angle) + (rows - size / 2) * np.cos(angle)
    centre = 0.25 * size * np.sin(2 * np.pi * u / size + phase)
    return np.exp(-(((v - centre) / (0.04 * size + 0.5)) ** 2))


def _lesion(rng: np.random.Generator, label: int, rows: np.ndarray, cols: np.ndarray,
            size: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
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
