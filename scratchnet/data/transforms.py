"""Image transforms in NumPy, applied to a whole batch (N, C, H, W) at once where that pays.

Data augmentation shows the network a slightly different picture of each image every epoch, so it
learns what does not change (the digit, the lesion) instead of memorising pixels. The lecture's
GoogLeNet recipe: crops of 8%-100% of the image with aspect ratios 3/4-4/3, resized to the input
size (``RandomResizedCrop``), plus photometric distortions (``PhotometricDistortion``). The CIFAR
ResNet recipe: pad by 4, random 32x32 crop, random horizontal flip.

Every transform takes an array of shape (C, H, W) or (N, C, H, W), float in [0, 1], and an optional
``rng`` (a ``numpy.random.Generator``; the ``DataLoader`` passes the epoch's own, which makes
augmentation reproducible). Random choices are made per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.rng import generator as global_generator


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    """``7 -> (7, 7)``; ``(7, 5)`` stays."""
    return (
        (int(value), int(value))
        if isinstance(value, int | np.integer)
        else (int(value[0]), int(value[1]))
    )


def resize(x: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Bilinear resize of the last two axes to ``size`` = (height, width).

    Same sampling as PyTorch's ``F.interpolate(mode="bilinear", align_corners=False)``: output
    pixel centres are mapped to input coordinates ``(i + 0.5) * in / out - 0.5``.

    Parameters
    ----------
    x : ndarray, shape (..., H, W)
    size : int or (OH, OW)

    Returns
    -------
    ndarray, shape (..., OH, OW)
    """
    out_h, out_w = pair(size)
    in_h, in_w = x.shape[-2:]

    def weights(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        # pixels past the border use the border (PyTorch clamps)
        source = np.clip(source, 0, n_in - 1)
        low = np.floor(source).astype(np.int64)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, (source - low).astype(x.dtype)

    r0, r1, wr = weights(out_h, in_h)  # (OH,) rows above/below and the weight of the one below
    c0, c1, wc = weights(out_w, in_w)  # (OW,)
    top = x[..., r0, :] * (1 - wr)[:, None] + x[..., r1, :] * wr[:, None]  # (..., OH, W)
    return top[..., c0] * (1 - wc) + top[..., c1] * wc  # (..., OH, OW)


class Transform:
    """Base class: ``__call__`` accepts one image or a batch;
    subclasses write ``apply`` on batches.
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__}: expected (C, H, W) or (N, C, H, W), got shape {x.shape}"
            )
        batch = x[None] if x.ndim == 3 else x
        out = self.apply(batch, rng if rng is not None else global_generator())
        return out[0] if x.ndim == 3 else out

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms one after the other (torchvision's ``Compose``)."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.transforms and isinstance(self.transforms[0], ToTensor):
            # an (H, W[, C]) image, or PIL's
            return Compose(self.transforms[1:])(ToTensor.to_chw(x), rng)
        return super().__call__(x, rng)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for transform in self.transforms:
            x = transform.apply(x, rng)
        return x


class ToTensor(Transform):
    """torchvision's ``ToTensor``: an (H, W, C) image
    (NumPy or PIL) becomes (C, H, W) float32, uint8 scaled to [0, 1].

    The first step of every torchvision pipeline (``Compose([ToTensor(), Normalize(...)])``), for
    images read from files as height x width x channels. Called on its own it returns a Tensor,
    as torchvision's does; inside ``Compose`` the pipeline works on arrays
    (see the module docstring).
    """

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        from scratchnet.tensor import Tensor  # the transforms work on arrays; only this call wraps

        return Tensor(self.to_chw(x))

    @staticmethod
    def to_chw(x: Any) -> np.ndarray:
        array = np.asarray(x)
        if array.ndim == 2:  # a greyscale image (H, W): one channel
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(
                f"ToTensor: expected an image of shape (H, W) or (H, W, C), got shape {array.shape}"
            )
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))  # (C, H, W)
        return (
            chw.astype(np.float32) / 255
            if chw.dtype == np.uint8
            else chw.astype(np.float32, copy=False)
        )

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # In a Compose the image arrives as a batch of one (1, H, W, C): convert each image.
        return np.stack([self.to_chw(image) for image in x])


class Normalize(Transform):
    """``(x - mean) / std`` per channel (mean and std of the training set, usually)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean, self.std = mean, std

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)  # (C, 1, 1) or (1, 1, 1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        return (x - mean) / std


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        flip = rng.random(len(x)) < self.p  # (N,) which images to mirror
        out = x.copy()
        out[flip] = x[flip, :, :, ::-1]
        return out


class RandomCrop(Transform):
    """Pad by ``padding`` and cut a random ``size`` window from each image (the CIFAR recipe).

    ``padding_mode`` is NumPy's ``np.pad`` mode: ``"constant"`` (zeros) or ``"reflect"``.
    """

    def __init__(
        self, size: int | Sequence[int], padding: int = 0, padding_mode: str = "constant"
    ) -> None:
        self.size, self.padding, self.padding_mode = pair(size), padding, padding_mode

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.padding
        if p > 0:
            x = np.pad(
                x, ((0, 0), (0, 0), (p, p), (p, p)), mode=self.padding_mode
            )  # (N, C, H+2p, W+2p)
        n, channels, height, width = x.shape
        h, w = self.size
        if h > height or w > width:
            raise ValueError(
                f"RandomCrop: crop {h}x{w} is larger than the padded image {height}x{width}"
            )
        top = rng.integers(0, height - h + 1, n)  # (N,) corner of each crop
        left = rng.integers(0, width - w + 1, n)
        rows = (top[:, None] + np.arange(h))[:, None, :, None]  # (N, 1, h, 1)
        cols = (left[:, None] + np.arange(w))[:, None, None, :]  # (N, 1, 1, w)
        batch = np.arange(n)[:, None, None, None]  # (N, 1, 1, 1)
        channel = np.arange(channels)[None, :, None, None]  # (1, C, 1, 1)
        return x[batch, channel, rows, cols]  # (N, C, h, w): one gather, no loop over images


class CenterCrop(Transform):
    """Cut the central ``size`` window."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = pair(size)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = self.size
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top : top + h, left : left + w]


class Resize(Transform):
    """Bilinear resize to ``size``; an int resizes the
    shorter side to it, keeping the aspect ratio.
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = size

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        height, width = x.shape[2:]
        if isinstance(self.size, int):
            short = min(height, width)
            size = (round(height * self.size / short), round(width * self.size / short))
        else:
            size = pair(self.size)
        return resize(x, size)


class RandomResizedCrop(Transform):
    """GoogLeNet's crop: a random patch of 8%-100% of the area with aspect ratio in [3/4, 4/3],
    resized to ``size`` (torchvision's ``RandomResizedCrop``, the same sampling rule).
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
    ) -> None:
        self.size, self.scale, self.ratio = pair(size), scale, ratio

    def crop_box(
        self, height: int, width: int, rng: np.random.Generator
    ) -> tuple[int, int, int, int]:
        """(top, left, h, w) of one random patch."""
        area = height * width
        for _ in range(10):  # rejection sampling: try until the patch fits in the image
            target_area = area * rng.uniform(*self.scale)
            # Log-uniform aspect ratio, so 3/4 and 4/3 are equally likely.
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            w = round(math.sqrt(target_area * aspect))
            h = round(math.sqrt(target_area / aspect))
            if 0 < w <= width and 0 < h <= height:
                return (
                    int(rng.integers(0, height - h + 1)),
                    int(rng.integers(0, width - w + 1)),
                    h,
                    w,
                )
        # Fallback: the largest central crop with an allowed aspect ratio.
        aspect = width / height
        if aspect < min(self.ratio):
            w, h = width, round(width / min(self.ratio))
        elif aspect > max(self.ratio):
            h, w = height, round(height * max(self.ratio))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty((*x.shape[:2], *self.size), dtype=x.dtype)
        for i, image in enumerate(x):  # each image its own patch size: one resize per image
            top, left, h, w = self.crop_box(x.shape[2], x.shape[3], rng)
            out[i] = resize(image[:, top : top + h, left : left + w], self.size)
        return out


class PhotometricDistortion(Transform):
    """Random brightness, contrast and saturation changes (Howard 2013, used by GoogLeNet).

    Each image gets factors drawn uniformly from [1 - s, 1 + s] for each strength s:

    * brightness: ``x * b``;
    * contrast: blend with the image's mean grey level, ``m + c (x - m)``;
    * saturation (colour images): blend with the grey version, ``g + s (x - g)``.

    The result is clipped to [0, 1].
    """

    def __init__(
        self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4
    ) -> None:
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(x)

        def factors(strength: float) -> np.ndarray:
            return rng.uniform(1 - strength, 1 + strength, n).astype(x.dtype)[
                :, None, None, None
            ]  # (N,1,1,1)

        x = x * factors(self.brightness)
        grey = _grey(x)  # (N, 1, H, W)
        mean = grey.mean(axis=(2, 3), keepdims=True)  # (N, 1, 1, 1)
        x = mean + factors(self.contrast) * (x - mean)
        if x.shape[1] == 3:
            grey = _grey(x)
            x = grey + factors(self.saturation) * (x - grey)
        return np.clip(x, 0, 1)


def _grey(x: np.ndarray) -> np.ndarray:
    """Luma (ITU-R 601, as PIL and torchvision) of RGB images;
    grey images are returned as they are.
    """
    if x.shape[1] != 3:
        return x
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).astype(
        x.dtype
    )  # (N, 1, H, W)
