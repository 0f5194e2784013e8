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
* the main classifier's training error per epoch (``aux_training.png``), per seed.

Run over several seeds (``--seeds 0,1,2,3``), the two claims fare differently, and the demo prints
both verdicts seed by seed: the *gradient* effect (orders of magnitude more gradient at layer 1 with
the heads) holds in every seed; "trains faster with heads" (a lower mean training error over the
epochs) holds in some seeds and not in others on the bundled digits, and the verdict says so.
Defaults: 4 seeds, 15 epochs (about 150 s of CPU time, one thread); ``--quick``: 2 seeds, 8 epochs.

Szegedy et al. later found (Inception-v3 paper, 2016) that with batch normalisation the heads no
longer speed up early training and act mostly as regularisers: run the demo with ``--depth 4`` to
see the gap shrink when the net is shallow.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import DataLoader
from scratchnet.data.transforms import Normalize
from scratchnet.demos.common import (
    DATASETS,
    NamedTrainer,
    Say,
    add_common_options,
    demo_main,
    demo_run,
    int_list,
    limit,
    load_split,
    parameter_count,
    points,
    positive_int,
    seed_spread,
    verdict,
)
from scratchnet.models.googlenet import GoogLeNetOutputs
from scratchnet.tensor import Tensor
from scratchnet.train import Trainer
from scratchnet.viz.plots import pyplot
from scratchnet.viz.result import RunResult

QUICK = {"seeds": "0,1", "epochs": 8}  # the defaults cut to fit 1-2 minutes of class


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

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        depth: int = 12,
        width: int = 16,
        aux_logits: bool = True,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1) for i in range(depth)]
        )
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


def gradient_norms(
    model: DeepPlainNet, trainer: Trainer, images: Tensor, labels: Tensor
) -> np.ndarray:
    """The L2 norm of d loss / d weight of every conv layer for one batch (the model unchanged)."""
    model.train()
    loss, _ = trainer.compute_loss(model(images), labels)
    model.zero_grad()
    loss.backward()
    norms = np.array([float(np.linalg.norm(np.asarray(conv.weight.grad))) for conv in model.convs])
    model.zero_grad()
    return norms


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.demos.aux_classifier", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", default="digits", help=f"one of {DATASETS}")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--depth", type=positive_int, default=12, help="conv layers")
    parser.add_argument(
        "--width", type=positive_int, default=16, help="channels of every conv layer"
    )
    parser.add_argument("--epochs", type=positive_int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--aux-weight", type=float, default=0.3, help="GoogLeNet: 0.3")
    parser.add_argument("--train-limit", type=int, default=None)
    add_common_options(parser, out="runs/aux_classifier", seeds="0,1,2,3")
    return parser


VARIANTS = {"with auxiliary heads": True, "without": False}


def experiment(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.quick:
        args.seeds, args.epochs = QUICK["seeds"], min(args.epochs, QUICK["epochs"])
    seeds = int_list(args.seeds)
    train_set = limit(load_split(args.dataset, "train", args.data_root), args.train_limit)
    channels = train_set.images.shape[1]
    # Without batch normalisation the inputs must be standardised by hand (zero mean, unit spread).
    pixels = train_set.get_batch(np.arange(len(train_set)))[0]
    normalize = Normalize(float(pixels.mean()), float(pixels.std()))
    images, labels = train_set.get_batch(np.arange(min(128, len(train_set))))
    probe = [
        Tensor(normalize(images)).to(args.device),
        Tensor(labels).to(args.device),
    ]  # a fixed batch

    def build(aux: bool) -> DeepPlainNet:
        return DeepPlainNet(channels, train_set.num_classes, args.depth, args.width, aux_logits=aux)

    say(
        f"Training a {args.depth}-layer plain conv net (no batch norm, "
        f"{parameter_count(build(False)):,} parameters) with and without two auxiliary heads "
        f"({parameter_count(build(True)):,} parameters in training) on {train_set}, {args.epochs} "
        f"epochs, seeds {seeds}."
    )
    say(
        "Watch for: how much gradient reaches layer 1 at initialisation with and without the "
        "heads (log scale), then whether the net with heads trains faster - seed by seed."
    )
    norms: dict[str, dict[int, list[float]]] = {name: {} for name in VARIANTS}
    errors: dict[str, dict[int, list[float]]] = {name: {} for name in VARIANTS}
    for seed in seeds:
        for name, aux in VARIANTS.items():
            sn.manual_seed(seed)
            model = build(aux)
            if args.optimizer == "sgd":
                optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
            else:
                optimizer = optim.Adam(model.parameters(), lr=args.lr)
            label = f"{args.depth}-layer net {'with' if aux else 'without'} heads, seed {seed}"
            trainer = NamedTrainer(
                model,
                optimizer,
                aux_weight=args.aux_weight,
                device=args.device,
                progress=not args.no_progress,
                name=label,
            )
            norms[name][seed] = gradient_norms(model, trainer, *probe).tolist()
            loader = DataLoader(
                train_set, args.batch_size, shuffle=True, seed=seed, transform=normalize
            )
            history = trainer.fit(loader, None, args.epochs)
            errors[name][seed] = [1 - a for a in history["train_accuracy"]]
        with_aux, without = (errors[name][seed] for name in VARIANTS)
        say(
            f"seed {seed}: |grad| of conv1 at init {norms['with auxiliary heads'][seed][0]:.3g} "
            f"with heads vs {norms['without'][seed][0]:.3g} without; mean training error over the "
            f"epochs {np.mean(with_aux):.1%} with vs {np.mean(without):.1%} without; last epoch "
            f"{with_aux[-1]:.1%} vs {without[-1]:.1%}"
        )

    ratios = [
        norms["with auxiliary heads"][s][0] / max(norms["without"][s][0], 1e-30) for s in seeds
    ]
    ratio = seed_spread(ratios)
    times = "{:,.0f}x".format if ratio["min"] >= 100 else "{:.3g}x".format  # 1,111x, not 1.11e+03x
    say(
        f"gradient at layer 1 with the heads: {times(ratio['min'])} to {times(ratio['max'])} "
        f"larger ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})"
    )
    claims = {}
    line, claims["more_gradient_at_layer_1"] = verdict(
        "layer 1 gets more gradient with the heads (log10 of the ratio)",
        np.log10(ratios).tolist(),
        lambda x: f"{x:+.2f}",
    )
    say(line)
    mean_error = {name: {s: float(np.mean(errors[name][s])) for s in seeds} for name in VARIANTS}
    noise = max(seed_spread(list(mean_error[name].values()))["std"] for name in VARIANTS)
    line, claims["trains_faster_with_heads"] = verdict(
        "the net with heads has the lower mean training error over the epochs",
        [mean_error["without"][s] - mean_error["with auxiliary heads"][s] for s in seeds],
        points,
        noise,
    )
    say(line)
    line, claims["lower_final_error_with_heads"] = verdict(
        "the net with heads ends with the lower training error",
        [errors["without"][s][-1] - errors["with auxiliary heads"][s][-1] for s in seeds],
        points,
        noise,
    )
    say(line)
    figures = {
        "aux_gradients": _gradient_figure(norms, seeds, args, build(True).aux_at),
        "aux_training": _training_figure(errors, seeds, args),
    }
    numbers = {
        "dataset": args.dataset,
        "depth": args.depth,
        "width": args.width,
        "epochs": args.epochs,
        "aux_weight": args.aux_weight,
        "seeds": seeds,
        "gradient_norms_at_init": norms,
        "training_error": errors,
        "mean_training_error": {
            name: seed_spread(list(v.values())) for name, v in mean_error.items()
        },
        "final_training_error": {
            name: seed_spread([v[s][-1] for s in seeds]) for name, v in errors.items()
        },
        "first_layer_gradient_ratio": ratio,
        "claims": claims,
    }
    return numbers, figures


COLOURS = {"with auxiliary heads": "tab:orange", "without": "tab:blue"}


def _gradient_figure(
    norms: dict[str, dict[int, list[float]]],
    seeds: list[int],
    args: argparse.Namespace,
    aux_at: tuple[int, int],
) -> Any:
    plt = pyplot()
    fig, ax = plt.subplots()
    layers = np.arange(1, args.depth + 1)
    for name, per_seed in norms.items():
        for i, seed in enumerate(seeds):
            ax.semilogy(
                layers,
                per_seed[seed],
                marker="o",
                color=COLOURS[name],
                alpha=0.6,
                linewidth=1.5,
                label=f"{name} ({len(seeds)} seeds)" if i == 0 else None,
            )
    for at in aux_at:
        ax.axvline(at + 1, color="grey", linestyle=":", linewidth=2)
    ax.set(
        xlabel="conv layer (1 = next to the input)",
        ylabel="|dL/dW| at initialisation (log scale)",
        title=f"Gradient reaching each layer, {args.depth}-layer plain net (dotted: auxiliary "
        "heads)",
    )
    ax.legend()
    return fig


def _training_figure(
    errors: dict[str, dict[int, list[float]]], seeds: list[int], args: argparse.Namespace
) -> Any:
    plt = pyplot()
    columns = min(len(seeds), 4)
    rows = int(np.ceil(len(seeds) / columns))
    fig, axes = plt.subplots(rows, columns, sharey=True, squeeze=False)
    epochs = np.arange(1, args.epochs + 1)
    for ax, seed in zip(axes.flat, seeds, strict=False):
        for name, per_seed in errors.items():
            ax.plot(
                epochs, per_seed[seed], marker="o", markersize=4, color=COLOURS[name], label=name
            )
        ax.set(title=f"seed {seed}", xlabel="epoch", ylim=(0, 1))  # an error rate: the whole scale
    for ax in axes.flat[len(seeds) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("training error")
    axes.flat[0].legend()
    fig.suptitle(f"Main classifier's training error, {args.depth}-layer plain net, seed by seed")
    return fig


def run(**options: Any) -> RunResult:
    """Run the demo with the command line's options as keywords, e.g. ``run(quick=True)``."""
    return demo_run(build_parser, experiment, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; ``argv`` defaults to no arguments (never ``sys.argv``: notebook-safe)."""
    return demo_main(build_parser, experiment, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
