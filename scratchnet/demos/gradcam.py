"""Grad-CAM on "lesion" images: does the network look at the lesion?

    python -m scratchnet.demos.gradcam --out runs/gradcam

generates synthetic tissue-like images in which the class is the shape of a bright lesion (none,
round, elongated, ring) and every image also has a bright "vessel" that carries no information.
It trains the demos' small CNN, computes Grad-CAM maps (``scratchnet.viz.grad_cam``) at its last
convolutional layer for test images, and scores them with the pointing game: how often the hottest
pixel of the map falls inside the lesion. It saves ``gradcam.png`` (images with the lesion outlined
and the heat maps laid over them) and ``metrics.json``.

On a real medical dataset (``--dataset pathmnist`` etc., from downloaded files) the maps are drawn
the same way; there are no lesion masks to score them against.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import optim
from scratchnet.data import DataLoader
from scratchnet.data.transforms import RandomHorizontalFlip
from scratchnet.demos.common import DATASETS, limit, load_split, out_dir, small_cnn, write_json
from scratchnet.optim.lr_scheduler import CosineAnnealingLR
from scratchnet.train import evaluate, fit
from scratchnet.viz import grad_cam, pointing_game
from scratchnet.viz.plots import finish, pyplot


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.demos.gradcam", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="synthetic", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--size", type=int, default=32, help="image size of the synthetic set")
    parser.add_argument("--samples", type=int, default=1500, help="training images of the synthetic set")
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv layers")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--show", type=int, default=12, help="images in the figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/gradcam")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = out_dir(args.out)
    sn.manual_seed(args.seed)

    def split(name: str) -> Any:
        return load_split(args.dataset, name, args.data_root, synthetic_size=args.size,
                          synthetic_samples=args.samples)  # fmt: skip

    train_set, test_set = split("train"), limit(split("test"), 400)
    model = small_cnn(train_set.images.shape[1], train_set.num_classes, width=args.width)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(train_set, args.batch_size, shuffle=True, transform=RandomHorizontalFlip())
    scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)  # a calm end: steady BN statistics
    fit(model, loader, None, optimizer, args.epochs, scheduler=scheduler, progress=not args.no_progress)
    test = evaluate(model, DataLoader(test_set, 256))
    print(f"test accuracy {test['accuracy']:.4f}")

    layer = model[9]  # the ReLU after the last conv layer: (N, 2 width, H/2, W/2), still spatial
    images, labels = test_set.get_batch(np.arange(len(test_set)))
    cams = np.concatenate([grad_cam(model, layer, images[i : i + 100]) for i in range(0, len(images), 100)])
    masks = getattr(test_set, "masks", None)
    score = pointing_game(cams, masks) if masks is not None else None
    if score is not None:
        print(f"pointing game: the hottest pixel is inside the lesion for {score:.1%} of the lesion images")

    predictions = test["scores"].argmax(axis=1)
    show = np.arange(min(args.show, len(images)))
    plt = pyplot()
    fig, axes = plt.subplots(2, len(show), figsize=(1.5 * len(show), 3.4), squeeze=False)
    for column, i in enumerate(show):
        picture = images[i].transpose(1, 2, 0) if images.shape[1] == 3 else images[i, 0]
        for row in (0, 1):
            ax = axes[row, column]
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
            if masks is not None and masks[i].any():
                ax.contour(masks[i], levels=[0.5], colors="lime", linewidths=0.8)
            ax.axis("off")
        axes[1, column].imshow(cams[i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axes[0, column].set_title(f"{test_set.classes[labels[i]]}\n-> {test_set.classes[predictions[i]]}", fontsize=6)
    title = "Grad-CAM at the last conv layer (green: lesion)"
    fig.suptitle(title if score is None else f"{title}; pointing game {score:.0%}", fontsize=9)
    fig.tight_layout()
    finish(fig, out / "gradcam.png")

    scored = int(masks.any(axis=(1, 2)).sum()) if masks is not None else 0
    metrics = {"dataset": args.dataset, "epochs": args.epochs, "test_accuracy": test["accuracy"],
               "pointing_game": score, "images_scored": scored}  # fmt: skip
    write_json(out / "metrics.json", metrics)
    print(f"figure: {out / 'gradcam.png'}")
    return metrics


if __name__ == "__main__":
    main()
