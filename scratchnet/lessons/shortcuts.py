"""Shortcuts without training: the gradient that reaches the first layer, and scaled shortcuts.

Slide "ResNet (1)": a plain 56-layer network trains to a higher error than a 20-layer one (the
degradation problem); with shortcuts the deeper network is better. Slide "ResNet (5)" (He et al.
2016, "Identity Mappings in Deep Residual Networks"): a shortcut that multiplies x by anything,
e.g. a constant 0.5, does not pass x on "clean", and optimisation suffers.

Both can be looked at before any training. Step 1 builds the CIFAR networks of the paper,
``plain20``/``plain56`` and ``resnet20``/``resnet56`` (the same layers, with and without
shortcuts), runs one batch of random images through each at initialisation and back-propagates a
cross-entropy loss: how large is the gradient that reaches the first conv's weights? Step 2 counts
the residual units of ResNet-110 and multiplies their shortcut scalings: with a constant 0.5 on
every shortcut, the signal from the first unit reaches the last one multiplied by 0.5 ** 54.

Run it: ``python -m scratchnet.lessons.shortcuts`` (``--json``, ``--plot shortcuts.png``).
Read next: ``scratchnet/models/resnet_cifar.py`` (``plain56``, ``resnet56``),
``scratchnet/models/resnet.py`` (``forward``: ``out + shortcut``), the demo
``scratchnet.demos.degradation`` (the training curves).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import scratchnet
from scratchnet import nn
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    finish,
    parse_args,
    run_lesson,
)
from scratchnet.models import plain20, plain56, resnet20, resnet56, resnet110
from scratchnet.models.resnet import BasicBlock
from scratchnet.ops.loss import cross_entropy
from scratchnet.viz.result import RunResult

BATCH = (
    2  # random CIFAR-sized images: BatchNorm still sees 2 x 8 x 8 = 128 values per channel at 8x8
)
PAPER_SCALE = 0.5  # He et al. 2016, Table 1: "constant scaling", lambda = 0.5 on every shortcut
PAPER = "He et al. 2016 (Identity Mappings), Eq. 5 and Table 1"


def first_layer_gradient(
    model: nn.Module, images: scratchnet.Tensor, labels: scratchnet.Tensor
) -> dict[str, Any]:
    """Norm of d loss / d (first conv's weights) and of each stage's output gradient, at init.

    The model is in training mode (BatchNorm normalises with the batch's statistics, as in
    training).
    """
    model.train()
    stage_outputs: dict[str, scratchnet.Tensor] = {}

    def keep(stage: str) -> Any:
        def hook(
            module: nn.Module, args: Any, out: scratchnet.Tensor
        ) -> None:  # None: the output is unchanged
            out.retain_grad()  # a non-leaf keeps its .grad only when asked
            stage_outputs[stage] = out

        return hook

    handles = [
        getattr(model, stage).register_forward_hook(keep(stage))
        for stage in ("layer1", "layer2", "layer3")
    ]
    loss = cross_entropy(model(images), labels)
    loss.backward()
    for handle in handles:
        handle.remove()
    first = model.conv1.weight.grad.numpy()
    last = model.fc.weight.grad.numpy()
    return {
        "loss": loss.item(),
        "first_conv": float(np.linalg.norm(first)),
        "fc": float(np.linalg.norm(last)),
        "stages": {
            name: float(np.linalg.norm(out.grad.numpy())) for name, out in stage_outputs.items()
        },
    }


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "shortcuts",
        "Shortcuts at initialisation: plain vs residual, scaled shortcuts (ResNet (1), (5))",
    )

    rows = gradient_at_the_first_layer(report)
    units, product = scaled_shortcuts(report)
    exercises(report)

    report.data.update(gradients=rows, units=units, product=product)
    return finish(report, args, plot)


def gradient_at_the_first_layer(report: Report) -> list[dict[str, Any]]:
    """Step 1: the gradient that reaches the first layer at initialisation, plain vs residual."""
    images = scratchnet.randn(BATCH, 3, 32, 32)
    labels = scratchnet.tensor(np.arange(BATCH) % 10)
    rows = []
    for name, make in (
        ("plain-20", plain20),
        ("ResNet-20", resnet20),
        ("plain-56", plain56),
        ("ResNet-56", resnet56),
    ):
        model = make()
        g = first_layer_gradient(model, images, labels)
        rows.append(
            {
                "network": name,
                "params": count_parameters(model),
                "loss": g["loss"],
                "first_conv": g["first_conv"],
                "fc": g["fc"],
                "ratio": g["first_conv"] / g["fc"],
                **{f"d_{stage}": value for stage, value in g["stages"].items()},
            }
        )
    report.say(
        f"Step 1. The same {BATCH} random 32x32 images and labels go through four freshly "
        "initialised CIFAR networks in training mode; a cross-entropy loss is back-propagated "
        "once. Plain and residual networks of the same depth have the same layers and the same "
        "parameters: only the additions differ. 'first conv' is the norm of the gradient of the "
        "first conv's weights, 'classifier' that of the last layer's; 'ratio' = first conv / "
        "classifier, how much of the signal survives the trip back."
    )
    report.table(
        "gradients",
        "",
        [
            Column("network", "network", align="<"),
            Column("params", "parameters", lambda v: f"{v:,}"),
            Column("loss", "loss", lambda v: f"{v:.3f}"),
            Column("fc", "classifier", lambda v: f"{v:.2e}"),
            Column("first_conv", "first conv", lambda v: f"{v:.2e}"),
            Column("ratio", "ratio", lambda v: f"{v:.3f}"),
            Column("d_layer1", "|d stage 1|", lambda v: f"{v:.2e}"),
            Column("d_layer3", "|d stage 3|", lambda v: f"{v:.2e}"),
        ],
        rows,
    )
    by = {r["network"]: r for r in rows}
    report.check(
        "plain-56 and ResNet-56 have the same parameters",
        by["plain-56"]["params"],
        by["ResNet-56"]["params"],
        "option A shortcuts have no weights",
    )
    plain_drop = by["plain-56"]["ratio"] / by["plain-20"]["ratio"]
    residual_drop = by["ResNet-56"]["ratio"] / by["ResNet-20"]["ratio"]
    report.check(
        "from 20 to 56 layers, the residual ratio changes less than the plain one",
        round(residual_drop, 3),
        round(plain_drop, 3),
        "slide ResNet (1): with shortcuts, depth stops hurting",
        shown=f"plain: x{plain_drop:.3g}",
        agrees=abs(np.log(residual_drop)) < abs(np.log(plain_drop)),
        fmt=lambda v: f"residual: x{v:.3g}",
    )
    report.say(
        "The residual networks pass about the same share of gradient to their first layer at 20 "
        f"and 56 layers (ratio {by['ResNet-20']['ratio']:.3f} and "
        f"{by['ResNet-56']['ratio']:.3f}). The plain ones do not: the plain-56's first-layer "
        f"gradient is {by['plain-56']['ratio']:,.0f} times its classifier's, {plain_drop:,.0f} "
        "times the plain-20's ratio. It does not vanish, it explodes: with BatchNorm in training "
        "mode each plain block multiplies the gradient on its way back, and 54 of them compound. "
        "In a residual block the gradient reaching x is the gradient of the block's output plus "
        "what flows through its convs (d(x + F(x))/dx = 1 + dF/dx): an identity path runs from "
        "the loss to the first layer and keeps the scale independent of depth. (He et al. "
        "trained their plain-56 with BatchNorm to a higher error, not a diverging one: "
        "degradation is an optimisation difficulty; the degradation demo shows the training "
        "curves.)"
    )
    return rows


def scaled_shortcuts(report: Report) -> tuple[int, float]:
    """Step 2: constant scaling of the shortcuts, 0.5 over ResNet-110's 54 units."""
    model = resnet110()
    units = sum(isinstance(m, BasicBlock) for m in model.modules())
    product = PAPER_SCALE**units
    report.say(
        "Step 2. Scaled shortcuts (slide ResNet (5), variant (b) of He et al. 2016). With "
        "x_{l+1} = lambda x_l + F(x_l) the identity path from unit l to unit L is multiplied "
        "by lambda at every unit: x_L = lambda^(L-l) x_l + (the branches' terms), and the "
        "gradient flowing back along it is scaled the same way. ResNet-110 (resnet110()) has "
        f"{units} residual units; with lambda = {PAPER_SCALE}:"
    )
    report.check(
        "ResNet-110 residual units", units, (110 - 2) // 2, "110 = 2 + 2 x 54 (two convs per unit)"
    )
    report.say(
        f"  shortcut product from the first unit to the last: {PAPER_SCALE} ** {units} = "
        f"{product:.3e}\n  after the first stage's 18 units alone:               {PAPER_SCALE} ** "
        f"18 = {PAPER_SCALE**18:.3e}",
        "So the first unit's signal reaches the output only through the convolution branches: "
        "the clean identity path is gone, and He et al. measured a higher error for it (Table "
        "1). An identity shortcut (lambda = 1) keeps the product at exactly 1 however deep the "
        "network is.",
    )
    return units, product


def exercises(report: Report) -> None:
    """The exercises (the answers are in ``--json``)."""
    report.exercise(
        "With lambda = 0.9 instead of 0.5, what is the shortcut product over ResNet-110's 54 "
        "units?",
        0.9**54,
    )
    report.exercise(
        "For which lambda is the product over 54 units exactly 1/2?",
        0.5 ** (1 / 54),
    )
    report.exercise(
        "How many residual units does ResNet-1202 (CIFAR, two 3x3 convs per unit) have?",
        (1202 - 2) // 2,
    )


def plot(fig: Any, report: Report) -> None:
    """Gradient norms at the first conv and the classifier; the shortcut product vs depth."""
    left, right = fig.subplots(1, 2)
    rows = report.data["gradients"]
    x = np.arange(len(rows))
    left.bar(x - 0.2, [r["fc"] for r in rows], width=0.4, label="classifier")
    left.bar(x + 0.2, [r["first_conv"] for r in rows], width=0.4, label="first conv")
    left.set_xticks(x, [r["network"] for r in rows])
    left.set_yscale("log")
    left.set_ylabel("gradient norm at initialisation")
    left.legend()
    units = np.arange(0, report.data["units"] + 1)
    right.semilogy(units, PAPER_SCALE**units, label="lambda = 0.5")
    right.semilogy(units, np.ones_like(units, dtype=float), label="identity")
    right.set_xlabel("residual units crossed")
    right.set_ylabel("product of shortcut scalings")
    right.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
