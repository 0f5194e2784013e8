"""Lab 9: a medical-imaging mini project. A small CNN on a MedMNIST-format dataset, the metrics a
clinician asks for, and Grad-CAM maps of where the network looks.

The data is a PneumoniaMNIST-shaped stand-in that ships with the lab (``make_dataset.py`` makes it
on first use, no download): 28x28 grey images, label 1 ("lesion") for three images in four. With
the real file from https://medmnist.com the same code runs unchanged
(``--data pneumoniamnist.npz``).

Accuracy alone misleads on such data: always answering "lesion" is 75% accurate. So you will report
sensitivity (how many lesions are found), specificity (how many healthy images are cleared) and the
ROC AUC (threshold-free, what MedMNIST's benchmark reports), and weight the loss against the
imbalance. Then Grad-CAM (Selvaraju et al. 2017) asks the trained network where it looked: the
gradient of the "lesion" score with respect to the last conv layer's feature maps tells how much
each map matters; their weighted sum, through a ReLU, is a heat map over the image. The synthetic
lesions come with masks, so you can score the maps: does the hottest pixel fall on the lesion?

Check your work:  python -m scratchnet.labs check lessons/lab09_medical
The project:      python lessons/lab09_medical/medical_cnn.py   (trains ~1 minute, writes
gradcam.png)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from make_dataset import DATA_PATH, ensure_dataset

import scratchnet as sn
from scratchnet import Tensor, nn, optim
from scratchnet.data import DataLoader, TensorDataset, medmnist
from scratchnet.data.transforms import resize
from scratchnet.nn import functional as F
from scratchnet.train import fit

CLASSES = ["normal", "lesion"]


def load_split(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One split of a MedMNIST-format file: uint8 images (N, 1, 28, 28), int64 labels (N,), and the
    lesion masks (N, 28, 28) bool where the file has them (the synthetic stand-in does; MedMNIST
    not)."""
    dataset = medmnist("pneumoniamnist", split, root=path)  # scratchnet's MedMNIST reader
    with np.load(path) as npz:
        masks = npz[f"{split}_masks"] if f"{split}_masks" in npz.files else None
    return dataset.images, dataset.labels, masks


# =====================================================================================
# TASK 9.1  Preprocessing: pixels to normalised floats
# =====================================================================================


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the pixels of uint8 ``images``, after scaling them to [0, 1].
    Computed on the TRAINING split only, and then used for every split."""
    ### BEGIN SOLUTION
    scaled = images.astype(np.float64) / 255
    return float(scaled.mean()), float(scaled.std())
    ### END SOLUTION


def normalize(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 images (N, C, H, W) -> float32 (images / 255 - mean) / std, the same shape."""
    ### BEGIN SOLUTION
    return ((images.astype(np.float32) / 255 - mean) / std).astype(np.float32)
    ### END SOLUTION


# =====================================================================================
# TASK 9.2  A small CNN
# =====================================================================================


class SmallCNN(nn.Module):
    """Three conv blocks, global average pooling,
    one linear layer: a VGG in miniature with NIN's head.

    ``features`` is one ``nn.Sequential``:

        Conv2d(in, 8, 3, padding=1), BatchNorm2d(8), ReLU, MaxPool2d(2)     28x28 -> 14x14
        Conv2d(8, 16, 3, padding=1), BatchNorm2d(16), ReLU, MaxPool2d(2)    14x14 -> 7x7
        Conv2d(16, 32, 3, padding=1), BatchNorm2d(32), ReLU                 7x7, 32 maps

    ``classifier`` is ``Linear(32, num_classes)``; forward: features, global average pooling,
    flatten, classifier. ``target_layer`` (given) is the last ReLU, the layer Grad-CAM looks at.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(32, num_classes)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return self.classifier(F.global_avg_pool2d(self.features(x)).flatten(1))  # (N, num_classes)
        ### END SOLUTION

    @property
    def target_layer(self) -> nn.Module:
        return self.features[-1]


# =====================================================================================
# TASK 9.3  Weights against class imbalance
# =====================================================================================


def class_weights(labels: np.ndarray, num_classes: int = 2) -> np.ndarray:
    """Inverse-frequency weights w_c = N / (K * n_c) (float32, shape (K,)), for a weighted
    cross-entropy: with 600 lesions and 200 normals, a normal image counts 3 times as much as a
    lesion image, so both classes weigh the same in the loss (sum over images of w_label = N)."""
    ### BEGIN SOLUTION
    counts = np.bincount(labels, minlength=num_classes)
    return (len(labels) / (num_classes * np.maximum(counts, 1))).astype(np.float32)
    ### END SOLUTION


def train_model(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int = 5,
    lr: float = 0.05,
    batch_size: int = 32,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> list[float]:
    """Train with ``scratchnet.train.fit``
    (SGD, momentum 0.9, weighted cross-entropy); the loss per epoch."""
    loader = DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=True, seed=seed
    )
    weight = None if weights is None else sn.tensor(weights)

    def loss_fn(outputs: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(outputs, targets, weight)

    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    history = fit(
        model, loader, optimizer=optimizer, epochs=epochs, loss_fn=loss_fn, progress=False
    )
    return history["train_loss"]


# =====================================================================================
# TASK 9.4  The network's answer: P(lesion)
# =====================================================================================


def lesion_probability(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """P(class 1) for every image, (N,) float: the softmax of the logits, computed in eval mode
    (batch norm's running statistics) and without recording the graph."""
    # HINT: model.eval(); with scratchnet.no_grad(): ...; F.softmax(logits, dim=1).
    ### BEGIN SOLUTION
    model.eval()
    with sn.no_grad():
        probabilities = F.softmax(model(sn.tensor(images)), dim=1)  # (N, 2)
    return probabilities.numpy()[:, 1].astype(np.float64)
    ### END SOLUTION


# =====================================================================================
# TASK 9.5  The metrics of a diagnostic test
# =====================================================================================


def binary_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Metrics of the decision "lesion if score >= threshold", and the threshold-free ROC AUC.

    Returns a dict with

    * ``accuracy``: correct decisions / all;
    * ``sensitivity`` (recall, true-positive rate): lesions found / lesions;
    * ``specificity`` (true-negative rate): normals cleared / normals;
    * ``precision`` (positive predictive value): true lesions / "lesion" decisions
      (0 if there are none);
    * ``auc``: the probability that a random lesion image scores higher than a random normal one,
      ties counting 1/2 (the area under the ROC curve).
    """
    # HINT: TP = ((scores >= t) & (labels == 1)).sum(), and so on for FP, TN, FN.
    # HINT: AUC: compare every positive score with every negative one (an (n_pos, n_neg) array of
    #       comparisons is fine for a few thousand images): mean of (pos > neg) + 0.5 * (pos ==
    #       neg).
    ### BEGIN SOLUTION
    predicted = scores >= threshold
    positive = labels == 1
    tp, fp = int((predicted & positive).sum()), int((predicted & ~positive).sum())
    tn, fn = int((~predicted & ~positive).sum()), int((~predicted & positive).sum())
    pos, neg = scores[positive][:, None], scores[~positive][None, :]  # (n_pos, 1), (1, n_neg)
    return {
        "accuracy": (tp + tn) / len(labels),
        "sensitivity": tp / max(tp + fn, 1),
        "specificity": tn / max(tn + fp, 1),
        "precision": tp / max(tp + fp, 1),
        "auc": float(((pos > neg) + 0.5 * (pos == neg)).mean()),
    }
    ### END SOLUTION


# =====================================================================================
# TASK 9.6  Grad-CAM
# =====================================================================================


def grad_cam(
    model: nn.Module, layer: nn.Module, images: np.ndarray, class_index: int = 1
) -> np.ndarray:
    """Grad-CAM maps of ``class_index`` for every image, upsampled to the images' size.

    With A (N, K, h, w) the output of ``layer`` and y_c the class score (the logit):

        alpha_k = mean over (h, w) of d y_c / d A_k         (N, K)    how much map k matters
        cam     = relu(sum over k of alpha_k * A_k)          (N, h, w)

    then each map is resized to the images' H x W by bilinear interpolation
    (``scratchnet.data.transforms.resize``) and divided by its maximum
    (a map that is all 0 stays 0).

    Returns ndarray (N, H, W), values in [0, 1]. The model is left in eval mode and ``layer``
    without hooks.
    """
    # HINT: a forward hook keeps the layer's output:  handle = layer.register_forward_hook(hook)
    #       with hook(module, args, output) storing output and calling output.retain_grad(), so that
    #       output.grad survives backward. handle.remove() afterwards.
    # HINT: model.eval(); scores = model(...); scores[:, class_index].sum().backward() gives every
    #       image's d y_c / d A at once (the images do not interact in eval mode).
    # HINT: resize(cam, (H, W)) resizes the last two axes of an (N, h, w) array.
    ### BEGIN SOLUTION
    saved: list[Tensor] = []

    def keep(module: nn.Module, args: tuple, output: Tensor) -> None:
        output.retain_grad()
        saved.append(output)

    handle = layer.register_forward_hook(keep)
    try:
        model.eval()
        scores = model(sn.tensor(images))  # (N, classes)
        scores[:, class_index].sum().backward()
    finally:
        handle.remove()
    model.zero_grad()  # the parameters' gradients are a side effect, not wanted
    activations = saved[0].numpy()  # (N, K, h, w)
    alpha = saved[0].grad.numpy().mean(axis=(2, 3))  # (N, K)
    cam = np.maximum((alpha[:, :, None, None] * activations).sum(axis=1), 0)  # (N, h, w)
    cam = resize(cam, images.shape[2:])  # (N, H, W)
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    ### END SOLUTION


# =====================================================================================
# TASK 9.7  Scoring the maps: the pointing game
# =====================================================================================


def pointing_game(cams: np.ndarray, masks: np.ndarray) -> float:
    """Of the images that have a lesion (a mask with at least one True pixel), the share whose map's
    hottest pixel lies inside the mask. ``cams`` (N, H, W), ``masks`` (N, H, W) bool. NaN if no
    image has one."""
    # HINT: np.unravel_index(cam.argmax(), cam.shape) is the (row, column) of the maximum.
    ### BEGIN SOLUTION
    hits = [
        bool(mask[np.unravel_index(cam.argmax(), cam.shape)])
        for cam, mask in zip(cams, masks, strict=True)
        if mask.any()
    ]
    return float(np.mean(hits)) if hits else float("nan")
    ### END SOLUTION


# =====================================================================================
# The project (no task: run it when the checks pass)
# =====================================================================================


def save_figure(
    path: Path, images: np.ndarray, cams: np.ndarray, masks: np.ndarray, scores: np.ndarray
) -> None:
    """Images, their Grad-CAM overlays and lesion outlines, in a grid (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    figure, axes = plt.subplots(2, count, figsize=(1.6 * count, 3.4))
    for i in range(count):
        axes[0, i].imshow(images[i, 0], cmap="gray")
        axes[0, i].set_title(f"P={scores[i]:.2f}", fontsize=8)
        axes[1, i].imshow(images[i, 0], cmap="gray")
        axes[1, i].imshow(cams[i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        if masks[i].any():
            axes[1, i].contour(masks[i], levels=[0.5], colors="white", linewidths=0.8)
        for axis in axes[:, i]:
            axis.axis("off")
    figure.suptitle("Grad-CAM of the lesion class (white: the true lesion)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Small CNN on a MedMNIST-format file: metrics and Grad-CAM."
    )
    parser.add_argument(
        "--data",
        default=str(DATA_PATH),
        help="a PneumoniaMNIST-format .npz (default: the stand-in)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--figure", default=str(Path(__file__).resolve().parent / "gradcam.png"))
    args = parser.parse_args(argv)

    path = ensure_dataset(args.data) if Path(args.data) == DATA_PATH else Path(args.data)
    train_images, train_labels, _ = load_split(path, "train")
    mean, std = pixel_stats(train_images)
    x_train = normalize(train_images, mean, std)
    sn.manual_seed(0)
    model = SmallCNN()
    losses = train_model(
        model, x_train, train_labels, epochs=args.epochs, weights=class_weights(train_labels)
    )
    print("training loss per epoch:", " ".join(f"{loss:.3f}" for loss in losses))

    header = (
        f"{'split':<6} {'accuracy':>9} {'sensitivity':>12} {'specificity':>12} "
        f"{'precision':>10} {'AUC':>6}"
    )
    print(f"\n{header}")
    for split in ("val", "test"):
        images, labels, masks = load_split(path, split)
        scores = lesion_probability(model, normalize(images, mean, std))
        m = binary_metrics(scores, labels)
        print(
            f"{split:<6} {m['accuracy']:>9.3f} {m['sensitivity']:>12.3f} {m['specificity']:>12.3f} "
            f"{m['precision']:>10.3f} {m['auc']:>6.3f}"
        )

    # Grad-CAM on the test split (the last one evaluated above):
    # images, scores and masks are the test set's.
    cams = grad_cam(model, model.target_layer, normalize(images, mean, std), class_index=1)
    if masks is not None:
        print(
            f"\npointing game on the test lesions: {pointing_game(cams, masks):.2f} "
            "(the hottest pixel of the map inside the lesion)"
        )
    try:
        shown = slice(0, 8)  # the first eight test images
        outlines = masks[shown] if masks is not None else np.zeros_like(cams[shown], dtype=bool)
        save_figure(Path(args.figure), images[shown], cams[shown], outlines, scores[shown])
        print(f"Grad-CAM maps written to {args.figure}")
    except ImportError:
        print("matplotlib is not installed: no figure (pip install matplotlib)")


if __name__ == "__main__":
    main()
