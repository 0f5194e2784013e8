"""Plots for watching a network learn and looking inside it: training curves, confusion matrices,
first-layer filters and the feature maps of any layer.

matplotlib is imported only when a plot is drawn, with the non-interactive Agg backend when there
is no display (a server, CI). Every function returns the matplotlib ``Figure``; given ``path`` it
also saves the figure there and closes it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scratchnet.function import no_grad
from scratchnet.tensor import Tensor


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported on first use; Agg backend when there is no display."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        headless = sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
        if headless and not os.environ.get("MPLBACKEND"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(fig: Any, path: str | os.PathLike | None) -> Any:
    """Save ``fig`` to ``path`` (creating the folder) and close it; return it either way."""
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        pyplot().close(fig)
    return fig


def _tidy(fig: Any) -> None:
    # Under a constrained layout (the demos' slide style) matplotlib lays the figure out itself;
    # tight_layout would replace it.
    if not fig.get_constrained_layout():
        fig.tight_layout()


# --------------------------------------------------------------------------- curves


def plot_history(
    history: Any,
    path: str | os.PathLike | None = None,
    title: str = "",
    figsize: tuple[float, float] = (10, 3.8),
) -> Any:
    """Loss and accuracy per epoch, training and validation, side by side.

    ``history`` is what ``scratchnet.train.fit`` returns (or its ``to_dict()``, or a loaded one).
    """
    columns = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    epochs = columns.get("epoch") or list(range(1, len(columns["train_loss"]) + 1))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            values = columns.get(f"{split}_{metric}")
            if values and any(v is not None for v in values):
                ax.plot(epochs, values, style, marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _tidy(fig)
    return finish(fig, path)


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    *,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    styles: Mapping[str, str] | None = None,
) -> Any:
    """Several named curves on one set of axes (e.g. the training error of three networks)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, values in curves.items():
        x = np.arange(1, len(values) + 1)
        ax.plot(x, values, (styles or {}).get(label, "-"), label=label, linewidth=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _tidy(fig)
    return finish(fig, path)


def plot_confusion_matrix(
    confusion: np.ndarray,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    normalize: bool = False,
    title: str = "confusion matrix",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """The confusion matrix as a heat map: rows are true classes, columns predicted ones.

    ``normalize=True`` divides each row by its total, so the diagonal is each class's recall.
    """
    confusion = np.asarray(confusion)
    shown = (
        confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1) if normalize else confusion
    )
    k = len(confusion)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    plt = pyplot()
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=figsize or (size, size))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=90 if max(len(n) for n in names) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 20:  # write the numbers in the cells while they fit
        threshold = shown.max() / 2
        for i in range(k):
            for j in range(k):
                text = f"{shown[i, j]:.2f}" if normalize else str(int(confusion[i, j]))
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize="medium",
                    color="white" if shown[i, j] > threshold else "black",
                )
    _tidy(fig)
    return finish(fig, path)


# --------------------------------------------------------------------------- inside the network


def plot_filters(
    weight: Any,
    path: str | os.PathLike | None = None,
    max_filters: int = 64,
    title: str = "first-layer filters",
) -> Any:
    """The kernels of a convolution as small images (AlexNet's Fig. 3, for any first layer).

    Parameters
    ----------
    weight : Conv2d, Tensor or array, shape (O, C, KH, KW)
        Three input channels are shown in colour; otherwise the mean over input channels, in grey.
        Each filter is scaled to its own min..max, so patterns are visible whatever their size.
    """
    weight = getattr(weight, "weight", weight)
    w = np.asarray(weight, dtype=np.float64)[:max_filters]  # (O, C, KH, KW)
    images = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(axis=1)  # (O, KH, KW[, 3])
    low = images.reshape(len(images), -1).min(axis=1)
    high = images.reshape(len(images), -1).max(axis=1)
    shape = (-1,) + (1,) * (images.ndim - 1)
    images = (images - low.reshape(shape)) / np.maximum(high - low, 1e-12).reshape(shape)
    return _grid(images, path, title, cmap="gray")


def feature_maps(model: Any, layer: Any, images: Any) -> np.ndarray:
    """The output of ``layer`` (a submodule or its dotted name) when ``model`` sees ``images``.

    Uses a forward hook, PyTorch's way of looking at intermediate activations; the model runs in
    eval mode without recording the graph, and is left in the mode it was in.

    Returns
    -------
    ndarray, shape (N, C, H, W) for a convolutional layer
    """
    module = model.get_submodule(layer) if isinstance(layer, str) else layer
    captured: list[np.ndarray] = []
    handle = module.register_forward_hook(lambda m, args, out: captured.append(np.array(out)))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(
                images
                if isinstance(images, Tensor)
                else Tensor(np.asarray(images, dtype=np.float32))
            )
    finally:
        handle.remove()
        model.train(was_training)
    if not captured:
        raise ValueError(f"feature_maps: the layer {layer!r} was not called in the forward pass")
    return captured[0]


def plot_feature_maps(
    model: Any,
    layer: Any,
    image: Any,
    path: str | os.PathLike | None = None,
    max_maps: int = 32,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """The input image (C, H, W) beside the channels of ``layer``'s output for it.

    All maps share one colour scale (shown by a colour bar), so a bright map is a strongly
    activated channel, not one stretched to its own range.
    """
    image = np.asarray(image, dtype=np.float32)
    maps = feature_maps(model, layer, image[None])[0][:max_maps]  # (C, H, W)
    name = layer if isinstance(layer, str) else type(layer).__name__
    columns = int(np.ceil(np.sqrt(len(maps) * 1.6)))  # a wide grid, for a 16:9 slide
    rows = int(np.ceil(len(maps) / columns))
    plt = pyplot()
    fig = plt.figure(figsize=figsize or (1.3 * columns + 4, 1.3 * rows + 1))
    grid = fig.add_gridspec(rows, columns + 2, width_ratios=[rows * 1.2, *[1] * columns, 0.15])
    ax = fig.add_subplot(grid[:, 0])
    shown = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    ax.imshow(np.clip(shown, 0, 1) if image.shape[0] == 3 else shown, cmap="gray")
    ax.set_title("input")
    ax.axis("off")
    low, high = float(maps.min()), float(maps.max())
    for c, feature in enumerate(maps):
        ax = fig.add_subplot(grid[c // columns, 1 + c % columns])
        colours = ax.imshow(feature, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        ax.axis("off")
    fig.colorbar(colours, cax=fig.add_subplot(grid[:, -1]), label="activation")
    fig.suptitle(title or f"feature maps of {name} ({len(maps)} channels)")
    return finish(fig, path)


def plot_images(
    images: Any,
    labels: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    title: str = "",
    overlays: np.ndarray | None = None,
    columns: int = 8,
) -> Any:
    """A grid of images (N, C, H, W), optionally titled, with heat maps (N, H, W) laid over them."""
    images = np.asarray(images, dtype=np.float32)
    shown = images.transpose(0, 2, 3, 1) if images.shape[1] == 3 else images[:, 0]
    return _grid(
        np.clip(shown, 0, 1),
        path,
        title,
        cmap="gray",
        labels=labels,
        overlays=overlays,
        columns=columns,
        normalise=False,
    )


def _grid(
    images: np.ndarray,
    path: str | os.PathLike | None,
    title: str,
    cmap: str,
    labels: Sequence[str] | None = None,
    overlays: np.ndarray | None = None,
    columns: int | None = None,
    normalise: bool = True,
) -> Any:
    n = len(images)
    columns = columns or int(np.ceil(np.sqrt(n)))
    columns = min(columns, n)
    rows = int(np.ceil(n / columns))
    plt = pyplot()
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.4 * columns + 0.4, 1.4 * rows + 0.6), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        kwargs = {"cmap": cmap} if images[i].ndim == 2 else {}
        if not normalise:
            kwargs.update(vmin=0, vmax=1)
        ax.imshow(images[i], interpolation="nearest", **kwargs)
        if overlays is not None:
            ax.imshow(overlays[i], cmap="jet", alpha=0.45, vmin=0, vmax=1, interpolation="bilinear")
        if labels is not None:
            ax.set_title(labels[i])
    if title:
        fig.suptitle(title)
    _tidy(fig)
    return finish(fig, path)
