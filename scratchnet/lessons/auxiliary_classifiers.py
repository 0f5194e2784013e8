"""GoogLeNet's auxiliary classifiers: where they attach, what they cost, what gradient they add.

Slide GoogLeNet (7): during training, two small classifiers sit on intermediate feature maps, after
inception (4a) and (4d). Their losses, weighted 0.3, are added to the main loss, so in the backward
pass the gradient at (4a) is the main network's gradient *plus* what the auxiliary heads send back
directly. At inference the heads are removed.

This lesson builds ``scratchnet.models.googlenet(aux_logits=True)``, finds where each head takes its
input (by following the tensors of a real forward pass), counts the heads' parameters and
multiply-adds, checks their layers against the paper's description, and then measures, on a real
backward pass, the gradient that reaches the output of inception (4a) from each of the three losses.

Run it: ``python -m scratchnet.lessons.auxiliary_classifiers`` (``--json``, ``--plot aux.png``).
Read next: ``scratchnet/models/googlenet.py`` (``InceptionAux``, ``googlenet_loss``),
``scratchnet/tensor.py`` (``backward`` and how gradients from two paths add up).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import scratchnet
from scratchnet import Tensor, nn
from scratchnet.analysis import summary
from scratchnet.lessons._common import (
    Column,
    Report,
    count_parameters,
    finish,
    fmt_int,
    fmt_si,
    parse_args,
    run_lesson,
)
from scratchnet.models.googlenet import GoogLeNetOutputs, googlenet, googlenet_loss
from scratchnet.ops.loss import cross_entropy
from scratchnet.viz.result import RunResult

PAPER = "Szegedy et al. 2015, Sec. 5"  # the auxiliary classifiers' description
SLIDE = "lecture, GoogLeNet (7)"
# torchvision.models.googlenet(aux_logits=True) / GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
TORCHVISION_WITH_AUX, TORCHVISION_WITHOUT_AUX = 13_004_888, 6_624_904
AUX_WEIGHT = 0.3
BATCH = (
    1  # one image: BatchNorm in training mode still has 16 or more values per channel everywhere
)
# GoogLeNet_Weights.IMAGENET1K_V1.meta["_ops"] = 1.498 (G multiply-adds, no heads) is checked as
# printed.


COMPONENTS = 24  # gradient entries drawn in the figure


def compare_pools(feature_map: Any) -> dict[str, Any]:
    """The adaptive 4x4 pool vs the paper's 5x5/stride-3 pool on a real 14x14 map (N, C, 14, 14)."""
    size = feature_map.shape[-1]
    # Adaptive pooling's window i covers [floor(i * size / 4), ceil((i + 1) * size / 4)): PyTorch's
    # rule.
    starts = [i * size // 4 for i in range(4)]
    ends = [-(-(i + 1) * size // 4) for i in range(4)]
    x = Tensor(feature_map)
    adaptive = nn.functional.adaptive_avg_pool2d(x, (4, 4)).numpy()
    paper = nn.functional.avg_pool2d(x, kernel_size=5, stride=3).numpy()
    return {
        "adaptive_starts": starts,
        "adaptive_size": sorted({e - s for s, e in zip(starts, ends, strict=True)}),
        "paper_starts": [3 * i for i in range(4)],
        "max_difference": float(np.max(np.abs(adaptive - paper))),
        "spread": float(np.max(feature_map) - np.min(feature_map)),
    }


def head_costs(model: nn.Module, attach: dict[str, Any]) -> list[dict[str, Any]]:
    """Parameters and multiply-adds of each head and of the network without them.

    Each head is summarised on its own, on the input it receives (``attach``); the network in eval
    mode, when the heads do not run.
    """
    s = summary(model, (3, 224, 224))  # eval mode: the main network only
    rows = []
    for head in ("aux1", "aux2"):
        module = getattr(model, head)
        rows.append(
            {
                "head": head,
                "params": count_parameters(module),
                "macs": summary(module, attach[head]["input"]).macs,
                "conv": f"1x1 {module.conv.conv.in_channels}->{module.conv.conv.out_channels}",
                "fc1": f"{module.fc1.in_features}->{module.fc1.out_features}",
                "fc2": f"{module.fc2.in_features}->{module.fc2.out_features}",
                "dropout": module.dropout.p,
            }
        )
    rows.append(
        {
            "head": "main network",
            "params": count_parameters(model) - sum(r["params"] for r in rows),
            "macs": s.macs,  # eval mode: the heads did not run
        }
    )
    return rows


def training_pass(model: nn.Module) -> dict[str, Any]:
    """One forward pass in training mode: where each head takes its input, and the gradient each
    loss sends back to the output of inception (4a).

    Hooks record every inception module's output and each head's input; the head's input is the very
    same tensor object as the output of the module it is attached to. A first hook on (4a) replaces
    its output by a leaf tensor with the same values: each backward pass then stops there and leaves
    d loss / d output(4a) in its ``.grad``. The weights are frozen, so only that gradient is
    computed.
    """
    model.train()
    model.requires_grad_(False)
    outputs: dict[str, Tensor] = {}
    inputs: dict[str, Tensor] = {}

    def make_leaf(module: nn.Module, args: Any, out: Tensor) -> Tensor:
        return Tensor(out.array, requires_grad=True)

    handles = [
        model.inception4a.register_forward_hook(make_leaf)
    ]  # first, so the hooks below see the leaf
    for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
        handles.append(
            getattr(model, name).register_forward_hook(
                lambda m, a, out, name=name: outputs.__setitem__(name, out)
            )
        )
    for head in ("aux1", "aux2"):
        handles.append(
            getattr(model, head).register_forward_pre_hook(
                lambda m, a, head=head: inputs.__setitem__(head, a[0])
            )
        )
        handles.append(
            getattr(model, head).conv.register_forward_pre_hook(
                lambda m, a, head=head: inputs.__setitem__(f"{head}.conv", a[0])
            )
        )  # after the 4x4 pooling
    images = scratchnet.randn(BATCH, 3, 224, 224)
    labels = scratchnet.tensor(np.arange(BATCH) % 1000)
    result = model(images)
    for handle in handles:
        handle.remove()
    assert isinstance(result, GoogLeNetOutputs)

    found = {}
    for head in ("aux1", "aux2"):
        source = next(
            name for name, out in outputs.items() if out is inputs[head]
        )  # the very same tensor
        found[head] = {
            "source": source,
            "input": inputs[head].shape[1:],
            "pooled": inputs[f"{head}.conv"].shape[1:],
        }

    losses = {
        "main": cross_entropy(result.logits, labels),
        "aux1": cross_entropy(result.aux_logits1, labels),
        "aux2": cross_entropy(result.aux_logits2, labels),
    }
    total = googlenet_loss(result, labels, aux_weight=AUX_WEIGHT)
    leaf, grads = outputs["inception4a"], {}
    for name, loss in [*losses.items(), ("total", total)]:
        leaf.grad = None
        loss.backward(retain_graph=True)
        grads[name] = leaf.grad.numpy().copy()
    combined = grads["main"] + AUX_WEIGHT * (grads["aux1"] + grads["aux2"])
    return {
        "attach": found,
        "losses": {name: loss.item() for name, loss in losses.items()} | {"total": total.item()},
        "norms": {name: float(np.linalg.norm(g)) for name, g in grads.items()},
        "weighted_aux_norms": {
            name: float(np.linalg.norm(AUX_WEIGHT * grads[name])) for name in ("aux1", "aux2")
        },
        "max_error": float(np.max(np.abs(grads["total"] - combined))),
        "map_4a": leaf.array,
        "cosines": {
            f"{a}, {b}": float(
                np.sum(grads[a] * grads[b]) / (np.linalg.norm(grads[a]) * np.linalg.norm(grads[b]))
            )
            for a, b in (("main", "aux1"), ("main", "aux2"), ("aux1", "aux2"))
        },
        "components": {
            name: grads[name].ravel()[:COMPONENTS].tolist()
            for name in ("main", "aux1", "aux2", "total")
        },
        "scale": float(np.max(np.abs(grads["total"]))),
    }


def run(**options: Any) -> RunResult:
    """The lesson for a notebook: a :class:`scratchnet.viz.RunResult` (``_common.run_lesson``)."""
    return run_lesson(main, __doc__, options)


def main(argv: Sequence[str] | None = None) -> Report:
    args = parse_args(argv, __doc__)
    report = Report(
        "auxiliary_classifiers", "GoogLeNet's auxiliary classifiers (slide GoogLeNet (7))"
    )
    model = googlenet(
        aux_logits=True
    )  # torchvision's layout, so the counts compare with torchvision's

    g = training_pass(model)

    found = where_the_heads_attach(report, g)
    rows, aux1 = what_the_heads_cost(report, model, found)
    the_gradient_they_add(report, g)
    exercises(report, g, model, aux1)

    report.data.update(attach=found, heads=rows, gradients=g)
    return finish(report, args, plot)


def where_the_heads_attach(report: Report, g: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Step 1: where the heads attach, and the pooling in front of them."""
    found = g.pop("attach")
    report.say(
        f"Step 1. Where do the heads attach? We run the model once in training mode ({BATCH} "
        "random image) with hooks on every inception module and on the two heads, and look for "
        "the module whose output tensor is the very object a head receives:",
        "\n".join(
            f"  {head} reads the output of {f['source']}: {_chw(f['input'])}, average-pooled to "
            f"{_chw(f['pooled'])}"
            for head, f in found.items()
        ),
    )
    report.check("aux1 is attached to", found["aux1"]["source"], "inception4a", PAPER, shown="(4a)")
    report.check("aux2 is attached to", found["aux2"]["source"], "inception4d", PAPER, shown="(4d)")
    report.check("aux1 input after pooling", _chw(found["aux1"]["pooled"]), "4x4x512", PAPER)
    pools = compare_pools(g.pop("map_4a"))
    report.say(
        "The paper pools with a 5x5 window, stride 3; the model, like torchvision, pools "
        "adaptively to 4x4 so that any input size works. At 224x224 both turn the 14x14 map into "
        "4x4, but not with the same windows (rows and columns alike):",
        f"  adaptive 14 -> 4:   size {pools['adaptive_size']}, starting at "
        f"{pools['adaptive_starts']}\n  paper 5x5, stride 3: size 5, starting at "
        f"{pools['paper_starts']}",
        "On the real (4a) output of our pass the two pooled maps differ by up to "
        f"{pools['max_difference']:.2f} (the map's values span {pools['spread']:.2f}). "
        "InceptionAux(..., pool='paper') builds the paper's pool; torchvision's pretrained "
        "weights were trained with the adaptive one.",
    )
    report.check(
        "adaptive 4x4 pool vs the paper's 5x5/3 at 14x14: same windows",
        pools["adaptive_starts"],
        pools["paper_starts"],
        PAPER,
        why="Windows of size 4 at 0, 3, 7, 10 are not windows of size 5 at 0, 3, 6, 9.",
    )
    report.check("aux2 input after pooling", _chw(found["aux2"]["pooled"]), "4x4x528", PAPER)
    return found


def what_the_heads_cost(
    report: Report, model: nn.Module, found: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Step 2: what the heads cost in parameters and multiply-adds; removed at inference."""
    rows = head_costs(model, found)
    report.say(
        "Step 2. What do they cost? Parameters from .parameters(), multiply-adds from summary(): "
        "each head on the map it receives, the network in eval mode (when the heads do not run)."
    )
    report.table(
        "heads",
        "",
        [
            Column("head", "", align="<"),
            Column("conv", "conv", align="<"),
            Column("fc1", "fc 1", align="<"),
            Column("fc2", "fc 2", align="<"),
            Column("dropout", "dropout", lambda p: f"{p:.0%}"),
            Column("params", "parameters", fmt_int),
            Column("macs", "multiply-adds", fmt_si),
        ],
        rows,
    )
    aux1 = rows[0]
    report.check("aux head: 1x1 conv filters", aux1["conv"].split("->")[1], "128", PAPER)
    report.check(
        "aux head: units of the hidden FC layer", aux1["fc1"].split("->")[1], "1024", PAPER
    )
    report.check("aux head: dropout", aux1["dropout"], 0.7, PAPER, shown="70%")
    report.check(
        "GoogLeNet with both heads, parameters",
        count_parameters(model),
        TORCHVISION_WITH_AUX,
        "torchvision googlenet(aux_logits=True)",
    )
    without = rows[-1]["params"]
    report.check(
        "GoogLeNet without the heads, multiply-adds",
        rows[-1]["macs"],
        "1.498G",
        "torchvision GoogLeNet_Weights.IMAGENET1K_V1 (_ops)",
    )
    report.check(
        "GoogLeNet without the heads, parameters",
        without,
        TORCHVISION_WITHOUT_AUX,
        "torchvision GoogLeNet_Weights.IMAGENET1K_V1",
    )
    heads = aux1["params"] + rows[1]["params"]
    head_macs = sum(r["macs"] for r in rows[:2]) / rows[-1]["macs"]
    fc1 = count_parameters(model.aux1.fc1)
    report.say(
        f"The two heads hold {fmt_int(heads)} parameters, {heads / count_parameters(model):.1%} "
        f"of the model in training. Most of a head's {fmt_int(aux1['params'])} sit in its first "
        f"FC layer ({model.aux1.fc1.in_features} x {model.aux1.fc1.out_features} + "
        f"{model.aux1.fc1.out_features} biases = {fmt_int(fc1)}, {fc1 / aux1['params']:.1%}); the "
        f"rest is the last FC layer to the 1000 classes. Yet the heads cost only {head_macs:.1%} "
        f"of the multiply-adds: they see a {_chw(found['aux1']['pooled']).rsplit('x', 1)[0]} map."
    )
    report.data["fc1_share_of_head"] = fc1 / aux1["params"]

    model.eval()
    with scratchnet.no_grad():
        eval_out = model(scratchnet.randn(1, 3, 64, 64))  # any size the model accepts will do here
    report.check(
        "in eval mode the model returns",
        "main logits only" if isinstance(eval_out, Tensor) else "main and auxiliary logits",
        "main logits only",
        SLIDE,
        note="'학습된 DNN을 사용할 때는 Auxiliary Classifier를 삭제 후 사용' "
        "(remove the auxiliary classifiers when using the trained network): in eval mode the heads "
        "are skipped.",
    )
    return rows, aux1


def the_gradient_they_add(report: Report, g: dict[str, Any]) -> None:
    """Step 3: the gradient the heads add at (4a), against the main one."""
    lines = [
        ("d main / d (4a)", g["norms"]["main"], ""),
        (
            f"{AUX_WEIGHT} x d aux1 / d (4a)",
            g["weighted_aux_norms"]["aux1"],
            "aux1 sits right on (4a)",
        ),
        (
            f"{AUX_WEIGHT} x d aux2 / d (4a)",
            g["weighted_aux_norms"]["aux2"],
            "reaches (4a) through 4b, 4c, 4d",
        ),
        ("d total / d (4a)", g["norms"]["total"], "the training loss"),
    ]
    report.say(
        "Step 3. The gradient they add (slide GoogLeNet (7): at 'X4' the auxiliary gradient adds "
        "to the main one). In the same training-mode pass we back-propagate each loss on its own "
        "and read the gradient that arrives at the output of inception (4a), the first head's "
        f"attachment point. The training loss is main + {AUX_WEIGHT} x (aux1 + aux2) "
        "(googlenet_loss). Norms of the gradients:",
        "\n".join(
            f"  ||{name}||{'':<{27 - len(name)}}{value:.3e}   {comment}".rstrip()
            for name, value, comment in lines
        ),
    )
    report.check(
        "gradients add: d total = d main + 0.3 (d aux1 + d aux2), largest difference",
        g["max_error"],
        0.0,
        "linearity of the backward pass",
        agrees=g["max_error"] <= 1e-5 * g["scale"],
        shown="0 (float32 rounding)",
        fmt=lambda v: f"{v:.1e}",
    )
    cos = g["cosines"]
    report.say(
        "The norms do not add up (the total is not the sum of the lines above): the gradients "
        "are vectors with one entry per number of the (4a) map, and vectors add entry by entry. "
        "Their directions (cosine of the angle between them: 1 = same direction, 0 = unrelated):",
        "\n".join(f"  cos({pair}) = {value:+.3f}" for pair, value in cos.items()),
        "The figure shows the first entries of each gradient: in every entry, main + 0.3 aux1 + "
        "0.3 aux2 equals the total.",
    )
    report.check(
        "gradient at (4a) with the heads vs without",
        round(g["norms"]["total"] / g["norms"]["main"], 3),
        1.0,
        SLIDE,
        agrees=g["norms"]["total"] > g["norms"]["main"],
        shown="> 1",
        fmt=lambda v: f"{v:.3f}x",
    )
    report.say(
        "Gradients from two paths simply add up at the tensor where the paths meet "
        "(Tensor.backward sums them), so the auxiliary losses put a short, direct signal into "
        "the middle of the network. This untrained model has BatchNorm, which came after "
        "GoogLeNet, so its main gradient is far from vanishing here; the heads were designed for "
        "the 2014 network without it. The Inception-v3 paper later found that they help mostly "
        "near the end of training, acting as a regulariser."
    )


def exercises(report: Report, g: dict[str, Any], model: nn.Module, aux1: dict[str, Any]) -> None:
    """The exercises, answered from the same run (the answers are in ``--json``)."""
    norms = g["norms"]
    quadrature = float(
        np.sqrt(norms["main"] ** 2 + sum(v**2 for v in g["weighted_aux_norms"].values()))
    )
    report.exercise(
        "The three gradients are almost orthogonal (cosines near 0). Predict ||d total / d "
        "(4a)|| from the three norms of Step 3 alone, and compare with the measured one.",
        {"predicted": quadrature, "measured": norms["total"]},
    )
    report.exercise(
        "Without its 4x4 pool, a head would flatten the 14x14x128 map after its 1x1 conv. How many "
        "parameters would its first FC layer (to 1024 units, with biases) have then?",
        14 * 14 * 128 * 1024 + 1024,
    )
    report.exercise(
        "What share of a head's parameters is its last FC layer (1024 -> 1000, with biases)?",
        round(count_parameters(model.aux1.fc2) / aux1["params"], 4),
    )


def _chw(shape: Sequence[int]) -> str:
    c, h, w = shape
    return f"{h}x{w}x{c}"


def plot(fig: Any, report: Report) -> None:
    """The first entries of the gradient at inception (4a): 3 parts stacked, the total on top."""
    c = report.data["gradients"]["components"]
    x = np.arange(len(c["main"]))
    parts = [
        ("d main", np.array(c["main"]), "tab:blue"),
        (f"{AUX_WEIGHT} x d aux1", AUX_WEIGHT * np.array(c["aux1"]), "tab:orange"),
        (f"{AUX_WEIGHT} x d aux2", AUX_WEIGHT * np.array(c["aux2"]), "tab:green"),
    ]
    ax = fig.subplots()
    up, down = np.zeros(len(x)), np.zeros(len(x))  # stack positive parts up and negative parts down
    for label, values, color in parts:
        bottom = np.where(values >= 0, up, down)
        ax.bar(x, values, bottom=bottom, color=color, label=label)
        up, down = up + np.maximum(values, 0), down + np.minimum(values, 0)
    ax.plot(x, c["total"], "k_", markersize=14, markeredgewidth=2, label="d total (measured)")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel(f"entry of the (4a) output (the first {len(x)})")
    ax.set_ylabel("d loss / d entry")
    ax.set_title("GoogLeNet: gradients add entry by entry (the bars sum to the black marks)")
    ax.legend()


if __name__ == "__main__":
    main(sys.argv[1:])
