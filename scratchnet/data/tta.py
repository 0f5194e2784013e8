"""Test-time augmentation: classify several views of each test image and combine the answers.

GoogLeNet's 144-crop scheme (Szegedy et al. 2015, section 7; the lecture's "Test" slide):

1. resize the image to 4 scales, its shorter side 256, 288, 320 and 352 pixels;
2. take 3 squares from each: left, centre and right (top, centre, bottom for a portrait image);
3. from each square take 6 views of 224x224: the 4 corners, the centre, and the whole square
   resized to 224;
4. add the mirror image of each view.

4 scales x 3 squares x 6 crops x 2 flips = 144 views. The softmax outputs of the 144 views are
averaged (or each view votes for its top class) to give the final prediction. The paper reports
about 1.5 points less top-5 error than a single crop (at 144 times the cost).

For small images the scales are scaled with the crop: ``scales_for(crop_size)`` gives the same
ratios as 256-352 to 224.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchnet.data.transforms import resize
from scratchnet.function import no_grad
from scratchnet.tensor import Tensor

GOOGLENET_SCALES = (256, 288, 320, 352)
GOOGLENET_CROP = 224


def scales_for(crop_size: int) -> tuple[int, ...]:
    """GoogLeNet's four scales for another crop size:
    256/224, 288/224, 320/224, 352/224 times it.
    """
    return tuple(round(crop_size * s / GOOGLENET_CROP) for s in GOOGLENET_SCALES)


def googlenet_crops(
    image: np.ndarray, crop_size: int = GOOGLENET_CROP, scales: Sequence[int] | None = None
) -> np.ndarray:
    """The 144 views of one image (fewer scales, fewer views).

    Parameters
    ----------
    image : ndarray, shape (C, H, W)
    crop_size : int
        Side of every view (224 in the paper).
    scales : sequence of int, optional
        Shorter sides to resize to; default ``scales_for(crop_size)`` (256, 288, 320, 352 for 224).

    Returns
    -------
    ndarray, shape (len(scales) * 3 * 6 * 2, C, crop_size, crop_size)
        For each scale, square and crop: the view, then its mirror.
    """
    scales = scales_for(crop_size) if scales is None else scales
    _, height, width = image.shape
    views = []
    for scale in scales:
        if scale < crop_size:
            raise ValueError(f"googlenet_crops: scale {scale} is smaller than the crop {crop_size}")
        size = (
            (scale, round(width * scale / height))
            if height <= width
            else (round(height * scale / width), scale)
        )
        resized = resize(image, size)  # (C, H', W'), shorter side = scale
        long_side = max(size)
        for offset in (0, (long_side - scale) // 2, long_side - scale):  # left/centre/right squares
            if height <= width:
                square = resized[:, :, offset : offset + scale]  # (C, scale, scale)
            else:
                square = resized[:, offset : offset + scale, :]
            far, mid = scale - crop_size, (scale - crop_size) // 2
            corners = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]  # 4 corners + centre
            crops = [
                square[:, top : top + crop_size, left : left + crop_size] for top, left in corners
            ]
            crops.append(resize(square, crop_size))  # the whole square, shrunk to the crop size
            for crop in crops:
                views.extend([crop, crop[:, :, ::-1]])  # the view and its mirror
    return np.stack(views)  # (144, C, crop_size, crop_size)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, stable for large logits (subtract the max first)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def combine(probabilities: np.ndarray, reduce: str = "mean") -> np.ndarray:
    """Combine the class probabilities of V views into one distribution.

    Parameters
    ----------
    probabilities : ndarray, shape (V, K)
    reduce : "mean" (average the softmax outputs) or "vote" (share of views whose top class is k)

    Returns
    -------
    ndarray, shape (K,)
    """
    if reduce == "mean":
        return probabilities.mean(axis=0)
    if reduce == "vote":
        votes = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
        return votes / len(probabilities)
    raise ValueError(f"combine: unknown reduce {reduce!r}; use 'mean' or 'vote'")


def predict_views(
    model: Any,
    images: np.ndarray | Tensor,
    make_views: Callable[[np.ndarray], np.ndarray],
    reduce: str = "mean",
    batch_size: int = 256,
) -> np.ndarray:
    """Class probabilities of each image from the combined predictions on its views.

    Parameters
    ----------
    model : Module
        Run in eval mode, without recording the graph; its mode is restored afterwards.
    images : array or Tensor, shape (N, C, H, W)
    make_views : callable
        One image (C, H, W) -> its views (V, C, h, w), e.g. ``googlenet_crops``.
    reduce : "mean" or "vote"
    batch_size : int
        Views per forward pass.

    Returns
    -------
    ndarray, shape (N, K)
    """
    images = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    results = []
    try:
        with no_grad():
            for image in images:
                views = make_views(image).astype(np.float32)  # (V, C, h, w)
                logits = np.concatenate(
                    [
                        np.asarray(
                            model(Tensor(np.ascontiguousarray(views[i : i + batch_size]))).array
                        )
                        for i in range(0, len(views), batch_size)
                    ]
                )
                results.append(combine(softmax(logits), reduce))
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    return np.stack(results)


def predict_144_crops(
    model: Any,
    images: np.ndarray | Tensor,
    crop_size: int = GOOGLENET_CROP,
    scales: Sequence[int] | None = None,
    reduce: str = "mean",
) -> np.ndarray:
    """GoogLeNet's multi-crop evaluation: (N, K) probabilities from 144 views per image."""
    return predict_views(
        model, images, lambda image: googlenet_crops(image, crop_size, scales), reduce
    )


def flip_views(image: np.ndarray) -> np.ndarray:
    """The cheapest TTA: the image and its mirror, shape (2, C, H, W)."""
    return np.stack([image, image[:, :, ::-1]])
