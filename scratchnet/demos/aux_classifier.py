"""GoogLeNet's auxiliary classifiers (Szegedy et al. 2015; the lecture's "GoogLeNet (7)").

In a deep network without batch normalisation (GoogLeNet predates it) the gradient that reaches
the early layers from the loss at the top is tiny. GoogLeNet attaches small classifiers to
intermediate layers during training; their losses, weighted 0.3, are added to the main one, so
gradient enters the network in the middle too. After training they are removed.

    python -m scratchnet.demos.aux_classifier --out runs/aux

builds the same deep plain stack of 3x3 conv-ReLU layers twice (identical initial weights: PyTorch's
default initialisation, no batch normalisation, so the signal fades layer by layer as in the nets
of 2014), once with two auxiliary heads at 1/3 and 2/3 of the depth, trains both on the same
batches (Adam, which rescales each weight's step, so even the net with tiny early gradients learns,
slowly) and plots

* the gradient norm of every conv layer's weights at initialisation, with and without the heads
  (``aux_gradients.png``): with them the early layers receive orders of magnitude more;
* the main classifier's training error per epoch (``aux_training.png``): the net with auxiliary
  heads gets going sooner.

Szegedy et al. later found (Inception-v3 paper, 2016) that with batch normalisation the heads no
longer speed up early training and act mostly as regularisers: run the demo with ``--depth 4`` to
see the gap shrink when the net is shallow.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import DataLoader
from scratchnet.data.transforms import Normalize
from scratchnet.demos.common import DATASETS, limit, load_split, out_dir, write_json
from scratchnet.models.googlenet import GoogLeNetOutputs
from scratchnet.tensor import Tensor
from scratchnet.train import Trainer
from scratchnet.viz.plots import finish, pyplot


class AuxHead(nn.Module):
    """A small InceptionAux: average pooling, 1x1 conv, ReLU, FC, ReLU, dropout 0.7, FC.

    Shapes: (N, C, H, W) -> (N, C, 2, 2) -> (N, 32, 2, 2) -> (N, 64) -> (N, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.conv = nn.Conv2d(in_channels, 32, 1)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.dropout = nn.Dropout(0.7)  # GoogLeNet's auxiliary heads use 70% dropout
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(self.pool(x)).relu().flatten(1)  # (N, 128)
        return self.fc2(self.dropout(self.fc1(x).relu()))


class DeepPlainNet(nn.Module):
    """``depth`` 3x3 conv-ReLU layers of ``width`` channels, no BN, global average pooling, linear.

    With ``aux_logits=True`` it returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` in
    training mode, like torchvision's GoogLeNet, and the logits alone in eval mode.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, depth: int = 12, width: int = 16,
                 aux_logits: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1)
                                    for i in range(depth)])  # fmt: skip
        self.head = nn.Linear(width, num_classes)
        self.aux_at = (depth // 3 - 1, 2 * depth // 3 - 1)  # after these conv layers (0-based)
        self.aux_logits = aux_logits
        # Built last, so with the same seed both variants get the same main weights.
        self.aux1 = AuxHead(width, num_classes) if aux_logits else None
        self.aux2 = AuxHead(width, num_classes) if aux_logits else None

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        aux = []
        for i, conv in enumerate(self.convs):
            x = conv(x).relu()  # (N, width, H, W)
            if self.aux_logits and self.training and i in self.aux_at:
                aux.append((self.aux1 if i == self.aux_at[0] else self.aux2)(x))
        logits = self.head(x.mean((2, 3)))  # global average pooling: (N, width)
        if self.aux_logits and self.training:
            return GoogLeNetOutputs(logits, aux[1], aux[0])
        return logits


def gradient_norms(model: DeepPlainNet, trainer: Trainer, images: Tensor, labels: Tensor) -> np.ndarray:
    """The L2 norm of d loss / d weight of every conv layer, for one batch (the model is not changed)."""
    model.train()
    loss, _ = trainer.compute_loss(model(images), labels)
    model.zero_grad()
    loss.backward()
    norms = np.array([float(np.linalg.norm(np.asarray(conv.weight.grad))) for conv in model.convs])
    model.zero_grad()
    return norms


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.aux_classifier", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--depth", type=int, default=12, help="conv layers")
    parser.add_argument("--width", type=int, default=16, help="channels of every conv layer")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--aux-weight", type=float, default=0.3, help="GoogLeNet: 0.3")
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/aux_classifier")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = out_dir(args.out)
    train_set = limit(load_split(args.dataset, "train", args.data_root), args.train_limit)
    channels = train_set.images.shape[1]
    # Without batch normalisation the inputs must be standardised by hand (zero mean, unit spread).
    pixels = train_set.get_batch(np.arange(len(train_set)))[0]
    normalize = Normalize(float(pixels.mean()), float(pixels.std()))
    images, labels = train_set.get_batch(np.arange(min(128, len(train_set))))
    probe = [Tensor(normalize(images)), Tensor(labels)]  # a fixed batch for the gradient norms

    results: dict[str, Any] = {}
    for name, aux in (("with auxiliary heads", True), ("without", False)):
        sn.manual_seed(args.seed)
        model = DeepPlainNet(channels, train_set.num_classes, args.depth, args.width, aux_logits=aux)
        if args.optimizer == "sgd":
            optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        else:
            optimizer = optim.Adam(model.parameters(), lr=args.lr)
        trainer = Trainer(model, optimizer, aux_weight=args.aux_weight, progress=not args.no_progress)
        norms_at_init = gradient_norms(model, trainer, *probe)
        loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed, transform=normalize)
        history = trainer.fit(loader, None, args.epochs)
        errors = [1 - a for a in history["train_accuracy"]]
        results[name] = {"gradient_norms_at_init": norms_at_init, "training_error": errors}
        print(f"{name}: |grad| of conv1 at init {norms_at_init[0]:.3g}, of the last conv {norms_at_init[-1]:.3g}; "
              f"training error {[round(e, 3) for e in errors]}")  # fmt: skip

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, result in results.items():
        ax.semilogy(np.arange(1, args.depth + 1), result["gradient_norms_at_init"], marker="o", label=name)
    for at in DeepPlainNet(channels, train_set.num_classes, args.depth, args.width).aux_at:
        ax.axvline(at + 1, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="conv layer (1 = next to the input)", ylabel="|dL/dW| at initialisation",
           title="gradient reaching each layer (dotted: auxiliary heads)")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    finish(fig, out / "aux_gradients.png")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, result in results.items():
        ax.plot(np.arange(1, args.epochs + 1), result["training_error"], marker="o", label=name)
    ax.set(xlabel="epoch", ylabel="training error of the main classifier", title=f"{args.depth}-layer plain net")
    ax.grid(alpha=0.3)
    ax.legend()
    finish(fig, out / "aux_training.png")

    with_aux, without = results["with auxiliary heads"], results["without"]
    metrics = {
        "dataset": args.dataset, "depth": args.depth, "width": args.width, "epochs": args.epochs,
        "aux_weight": args.aux_weight, "results": results,
        "first_layer_gradient_ratio": float(with_aux["gradient_norms_at_init"][0]
                                            / max(without["gradient_norms_at_init"][0], 1e-30)),
    }  # fmt: skip
    write_json(out / "metrics.json", metrics)
    print(f"first-layer gradient {metrics['first_layer_gradient_ratio']:.3g}x larger with auxiliary heads; "
          f"figures in {out}")  # fmt: skip
    return metrics


if __name__ == "__main__":
    main()
