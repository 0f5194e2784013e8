"""Grad-CAM (Selvaraju et al. 2017): where in the image did the network look for its answer?

For a class c and a convolutional layer with feature maps A_k (k = 1..K):

1. run the image forward and backward from the class score y_c to the layer's output: dy_c/dA_k;
2. weight each map by its average gradient, alpha_k = mean over (i, j) of dy_c/dA_k[i, j] (how much
   the class score rises when map k brightens);
3. the heat map is ReLU(sum_k alpha_k A_k): only regions that speak *for* class c;
4. upsample it to the image size and scale it to [0, 1].

The last convolutional layer is the usual choice: it still has a spatial layout, and its maps are
the most class-specific. In a medical image the map should cover the lesion, not a ruler or a
scanner label beside it; ``pointing_game`` scores that against known lesion masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.data.transforms import resize
from scratchnet.tensor import Tensor


def grad_cam(
    model: Any, layer: Any, images: Any, target: int | Sequence[int] | None = None
) -> np.ndarray:
    """Grad-CAM heat maps of ``images`` for class ``target`` at ``layer``.

    Parameters
    ----------
    model : Module
        Run in eval mode (BatchNorm with running statistics, so each image is independent).
    layer : Module or str
        The convolutional layer (or its dotted name, e.g. ``"layer3"``) whose output is explained.
    images : array or Tensor, shape (N, C, H, W)
    target : int or sequence of N ints, optional
        The class to explain; by default the predicted class of each image.

    Returns
    -------
    ndarray, shape (N, H, W)
        Heat maps in [0, 1] at the input resolution.

    The parameters' ``.grad`` are left as they were, and the model in the mode it was in.
    """
    module = model.get_submodule(layer) if isinstance(layer, str) else layer
    x = images if isinstance(images, Tensor) else Tensor(np.asarray(images, dtype=np.float32))
    saved: dict[str, Tensor] = {}

    def keep_activation(m: Any, args: Any, output: Tensor) -> None:
        output.retain_grad()  # a non-leaf: ask backward to keep its gradient
        saved["activation"] = output

    handle = module.register_forward_hook(keep_activation)
    was_training = model.training
    old_grads = {id(p): p.grad for p in model.parameters()}
    for p in model.parameters():
        p.grad = None  # backward adds into a .grad in place: it must not reach the saved ones
    model.eval()
    try:
        logits = model(x)
        logits = logits[0] if isinstance(logits, tuple) else logits
        scores = np.asarray(logits)  # (N, K)
        n = len(scores)
        classes = (
            scores.argmax(axis=1) if target is None else np.broadcast_to(np.asarray(target), (n,))
        )
        if "activation" not in saved:
            raise ValueError(f"grad_cam: the layer {layer!r} was not called in the forward pass")
        # Backward from every image's y_c at once: the seed is 1 at (i, c_i). In eval mode image i's
        # score depends on image i only, so each image still gets its own gradient.
        seed = np.zeros_like(scores)
        seed[np.arange(n), classes] = 1
        logits.backward(seed)
        activation = np.asarray(saved["activation"])  # (N, K, h, w)
        gradient = np.asarray(saved["activation"].grad)  # (N, K, h, w)
    finally:
        handle.remove()
        model.train(was_training)
        for p in model.parameters():
            p.grad = old_grads[id(p)]

    alpha = gradient.mean(axis=(2, 3))  # (N, K): global-average-pooled gradients
    cam = np.maximum((alpha[:, :, None, None] * activation).sum(axis=1), 0)  # (N, h, w), ReLU
    cam = resize(cam, x.shape[2:])  # (N, H, W) bilinear, to lay over the image
    peak = cam.reshape(n, -1).max(axis=1)
    return cam / np.where(peak > 0, peak, 1)[:, None, None]


def pointing_game(cams: np.ndarray, masks: np.ndarray) -> float:
    """Share of heat maps whose hottest pixel lies inside the object's mask (Zhang et al. 2016).

    Parameters
    ----------
    cams : ndarray, shape (N, H, W)
    masks : ndarray, shape (N, H, W), bool
        Images with an empty mask are skipped.
    """
    hits = []
    for cam, mask in zip(cams, masks, strict=True):
        if mask.any():
            i, j = np.unravel_index(np.argmax(cam), cam.shape)
            hits.append(bool(mask[i, j]))
    return float(np.mean(hits)) if hits else float("nan")


def plot_gradcam(
    images: Any,
    cams: np.ndarray,
    labels: Sequence[str] | None = None,
    path: str | None = None,
    title: str = "Grad-CAM",
) -> Any:
    """Images with their Grad-CAM heat maps laid over them (jet colour map, half transparent)."""
    from scratchnet.viz.plots import plot_images

    return plot_images(images, labels, path, title=title, overlays=cams)
