"""Make the lab's offline stand-in for a MedMNIST dataset: ``data/synthetic_pneumoniamnist.npz``.

MedMNIST (Yang et al. 2023) ships each dataset as one ``.npz`` file: ``train_images`` (N, 28, 28)
uint8, ``train_labels`` (N, 1) uint8, and the same for ``val`` and ``test``. PneumoniaMNIST is a
binary task on chest X-rays (normal / pneumonia) with about 3 pneumonia images for every normal one.

This script writes a file in exactly that format, so that ``scratchnet.data.medmnist`` reads it,
from ``scratchnet.data.synthetic_lesions``: noisy tissue-like images, a bright "vessel" that says
nothing about the label, and in three images out of four a bright lesion (round, elongated or
ring-shaped) -- label 1, "pneumonia" -- in the others none -- label 0, "normal". It also stores the
lesion masks (``train_masks`` ...), which real MedMNIST does not have, so Grad-CAM can be scored.

The same seed gives the same file, byte for byte; nothing is downloaded. It is made on first use by
``medical_cnn.py``, or by hand:  python lessons/lab09_medical/make_dataset.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.data import synthetic_lesions

DATA_PATH = Path(__file__).resolve().parent / "data" / "synthetic_pneumoniamnist.npz"
SPLITS = {"train": 2000, "val": 400, "test": 400}


def make_synthetic_medmnist(
    path: str | Path = DATA_PATH, sizes: dict[str, int] | None = None, seed: int = 0, size: int = 28
) -> Path:
    """Write the MedMNIST-format file; return its path.

    Parameters
    ----------
    path : path of the ``.npz`` to write (its folder is created)
    sizes : images per split, default ``SPLITS`` (2000 / 400 / 400)
    seed : the splits use seeds ``seed``, ``seed + 1``, ``seed + 2``
    size : image height and width (MedMNIST's classic size is 28)
    """
    arrays = {}
    for offset, (split, count) in enumerate((sizes or SPLITS).items()):
        data = synthetic_lesions(count, size=size, num_classes=4, noise=0.2, seed=seed + offset)
        images = np.round(data.images[:, 0] * 255).astype(
            np.uint8
        )  # (N, 28, 28), as MedMNIST's grey sets
        labels = (data.labels > 0).astype(np.uint8).reshape(-1, 1)  # (N, 1): 0 normal, 1 lesion
        arrays.update(
            {f"{split}_images": images, f"{split}_labels": labels, f"{split}_masks": data.masks}
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def ensure_dataset(path: str | Path = DATA_PATH) -> Path:
    """The dataset's path, making the file first if it is not there yet."""
    path = Path(path)
    return path if path.exists() else make_synthetic_medmnist(path)


if __name__ == "__main__":
    written = make_synthetic_medmnist()
    with np.load(written) as npz:
        print(
            f"wrote {written}: "
            + ", ".join(f"{key} {npz[key].shape} {npz[key].dtype}" for key in npz.files)
        )
