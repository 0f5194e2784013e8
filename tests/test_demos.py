"""Every demo runs end to end with tiny settings: as a command line (``main(argv)``: figures and
metrics written) and as a function (``run(**options)``: a RunResult with open figures), with
verdicts checked seed by seed, slide-sized figures, and no traceback for a missing dataset.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import tensor
from scratchnet.data import synthetic_lesions
from scratchnet.demos import aux_classifier, common, degradation, gradcam, se_excitation, train
from scratchnet.demos.common import load_split, small_cnn
from scratchnet.train import load_checkpoint
from scratchnet.viz import RunResult

QUIET = ["--no-progress"]
DEMOS = {
    "train": train,
    "degradation": degradation,
    "aux_classifier": aux_classifier,
    "se_excitation": se_excitation,
    "gradcam": gradcam,
}
TINY = {  # the smallest settings that still exercise every step, as run() keywords
    "train": {"epochs": 1, "train_limit": 96},
    "degradation": {
        "depths": "8,14",
        "widths": "4,4,4",
        "epochs": 2,
        "train_limit": 64,
        "seeds": "0,1",
    },
    "aux_classifier": {"depth": 6, "width": 4, "epochs": 1, "train_limit": 64, "seeds": "0,1"},
    "se_excitation": {"widths": "4,4,8", "epochs": 1, "train_limit": 64, "seeds": "0,1"},
    "gradcam": {"size": 16, "samples": 64, "width": 4, "epochs": 1, "show": 3, "seeds": "0,1"},
}


def _argv(options):
    return [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]


def _png(path):
    return path.exists() and path.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def results():
    """Each demo's run() with tiny settings, once for the module (the figures stay open)."""
    out = {name: DEMOS[name].run(no_progress=True, **options) for name, options in TINY.items()}
    yield out
    import matplotlib.pyplot as plt

    plt.close("all")


def test_train_demo_writes_metrics_figures_and_checkpoint(tmp_path):
    metrics = train.main([*_argv(TINY["train"]), "--out", str(tmp_path), *QUIET])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "history"):
        assert key in saved, key
    assert (
        saved["epochs"] == 1
        and 0 <= saved["test_accuracy"] <= 1
        and saved == json.loads(json.dumps(metrics))
    )
    assert len(saved["history"]["train_loss"]) == 1
    for name in ("curves", "confusion_matrix", "filters", "feature_maps"):
        assert _png(tmp_path / f"{name}.png"), name
    model = small_cnn(1, 10)
    state = load_checkpoint(tmp_path / "checkpoint.npz", model)
    assert state["epoch"] == 1


def test_train_demo_with_a_zoo_model_on_grey_images(tmp_path):
    """A model built for RGB input gets the grey digits repeated to three channels."""
    args = [
        "--model",
        "resnet20",
        "--epochs",
        "1",
        "--train-limit",
        "32",
        "--batch-size",
        "16",
        "--optimizer",
        "adam",
    ]
    metrics = train.main([*args, "--lr", "0.01", "--augment", "--out", str(tmp_path), *QUIET])
    assert metrics["model"] == "resnet20" and metrics["parameters"] == 269_722


def test_train_demo_rejects_unknown_names(tmp_path):
    with pytest.raises(SystemExit):
        train.main(["--model", "no_such_net", "--out", str(tmp_path), *QUIET])
    with pytest.raises(ValueError, match="unknown dataset"):
        load_split("imagenet", "train")


@pytest.mark.parametrize("name", ["degradation", "aux_classifier", "se_excitation", "gradcam"])
def test_main_writes_figures_and_metrics(name, tmp_path):
    metrics = DEMOS[name].main([*_argv(TINY[name]), "--out", str(tmp_path), *QUIET])
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["seeds"] == [0, 1] and all(
        claim["seeds"] == 2 for claim in metrics["claims"].values()
    )
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs and all(_png(tmp_path / p) for p in pngs)


@pytest.mark.parametrize("name", list(DEMOS))
def test_run_returns_numbers_open_figures_and_the_printed_text(name, results, capsys):
    result = results[name]
    assert isinstance(result, RunResult)
    json.dumps(result.numbers)  # JSON-safe, as the docs' numbers.json needs
    assert result.figures and all(type(f).__name__ == "Figure" for f in result.figures.values())
    first = result.text.splitlines()
    assert first[0].startswith("Training ") and "parameters" in first[0]  # what it trains
    assert first[1].startswith("Watch for: ")  # and what to watch for, before it starts


@pytest.mark.parametrize("name", ["degradation", "se_excitation"])
def test_run_text_is_what_the_command_line_prints(name, tmp_path, capsys):
    result = DEMOS[name].run(no_progress=True, out=str(tmp_path), **TINY[name])
    printed = capsys.readouterr().out
    assert printed == result.text and (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("name", list(DEMOS))
def test_figures_are_slide_sized_with_readable_text(name, results):
    from matplotlib.text import Text

    for fig_name, fig in results[name].figures.items():
        width, height = fig.get_size_inches() * fig.dpi
        assert (round(width), round(height)) == (1280, 720) or fig_name == "filters", (
            fig_name,
            width,
            height,
        )
        fig.canvas.draw()
        sizes = [
            t.get_fontsize() * fig.dpi / 72
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text()
        ]
        assert sizes and min(sizes) >= common.SMALLEST_TEXT_PX - 0.5, (fig_name, min(sizes))


@pytest.mark.parametrize("name", list(DEMOS))
def test_main_without_arguments_ignores_a_jupyter_kernels_argv(name, monkeypatch, tmp_path):
    """In a notebook sys.argv is the kernel's (['-f', 'kernel.json']); main() must not parse it."""
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    monkeypatch.chdir(tmp_path)
    seen = {}

    def experiment(args, say):
        seen.update(vars(args))
        return {}, {}

    monkeypatch.setattr(DEMOS[name], "experiment", experiment)
    assert DEMOS[name].main() == {}
    assert seen["out"] == DEMOS[name].build_parser().get_default("out")


@pytest.mark.parametrize("name", list(DEMOS))
def test_a_missing_dataset_is_one_line_not_a_traceback(name, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        DEMOS[name].main(["--dataset", "cifar10", "--data-root", str(tmp_path), *QUIET])
    message = str(exit_info.value.code)
    assert "\n" not in message and "cifar" in message.lower() and "download" in message


def test_a_missing_dataset_from_the_shell_prints_one_line(tmp_path):
    command = [sys.executable, "-m", "scratchnet.demos.se_excitation", "--dataset", "cifar10"]
    result = subprocess.run(
        [*command, "--data-root", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "download" in result.stderr


def test_zero_epochs_are_refused(tmp_path):
    """An empty training figure helps no one: --epochs 0 is an error, as run(epochs=0) is."""
    with pytest.raises(SystemExit):
        aux_classifier.main(["--epochs", "0", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        aux_classifier.run(epochs=0)
    assert not list(tmp_path.iterdir())


def test_run_rejects_an_unknown_option():
    with pytest.raises(TypeError, match=r"unknown option.*'epoch'"):
        degradation.run(epoch=3)


def test_verdict_counts_the_seeds_where_a_claim_holds():
    line, every = common.verdict("A beats B", [0.1, 0.2, 0.3], common.points, noise=0.05)
    assert "holds in every seed" in line and "+20.0 points" in line and "spread 5.0 points" in line
    assert (
        every["held_in"] == 3
        and every["holds_in_every_seed"]
        and every["std"] == pytest.approx(0.1)
    )
    line, some = common.verdict("A beats B", [0.1, -0.2], common.points)
    assert "holds in 1 of 2 seeds only" in line and not some["holds_in_every_seed"]
    line, none = common.verdict("A beats B", [-0.1, 0.0], common.points)
    assert "does not hold" in line and none["held_in"] == 0


def test_degradation_verdicts_are_per_seed(results):
    numbers = results["degradation"].numbers
    assert set(numbers["training_error"]) == {"plain-8", "plain-14", "ResNet-14"}
    for key, (worse, better) in {
        "degradation": ("plain-14", "plain-8"),
        "residual_fixes_it": ("plain-14", "ResNet-14"),
    }.items():
        per_seed = [
            numbers["training_error"][worse][s][-1] - numbers["training_error"][better][s][-1]
            for s in ("0", "1")
        ]
        assert numbers["claims"][key]["per_seed"] == pytest.approx(per_seed)
        assert numbers["claims"][key]["held_in"] == sum(e > 0 for e in per_seed)


def test_aux_classifier_gradient_ratio_per_seed(results):
    numbers = results["aux_classifier"].numbers
    norms = numbers["gradient_norms_at_init"]
    ratios = [norms["with auxiliary heads"][s][0] / norms["without"][s][0] for s in ("0", "1")]
    assert numbers["first_layer_gradient_ratio"]["per_seed"] == pytest.approx(ratios)
    assert min(ratios) > 1  # the heads add gradient early on, in every seed


def test_aux_net_returns_googlenet_outputs_in_training_only():
    net = aux_classifier.DeepPlainNet(1, 10, depth=6, width=4)
    x = np.zeros((2, 1, 8, 8), np.float32)
    outputs = net(tensor(x))
    assert type(outputs).__name__ == "GoogLeNetOutputs" and outputs.logits.shape == (2, 10)
    net.eval()
    assert net(tensor(x)).shape == (2, 10)


def test_se_excitation_has_an_untrained_baseline(results):
    numbers = results["se_excitation"].numbers
    assert len(numbers["class_spread"]) == 3 and set(numbers["untrained_class_spread"]) == set(
        numbers["class_spread"]
    )
    assert all(0 <= v["mean"] <= 0.5 for v in numbers["class_spread"].values())


def test_class_spread_by_hand():
    labels = np.array([0, 0, 1, 1])
    determined = np.array(
        [[0.1, 0.5], [0.1, 0.5], [0.9, 0.5], [0.9, 0.5]]
    )  # channel 0 tells the class
    agnostic = np.array([[0.1], [0.9], [0.1], [0.9]])  # the same mean in every class
    assert se_excitation.class_spread(determined, labels) == pytest.approx((0.4 + 0.0) / 2)
    assert se_excitation.class_spread(agnostic, labels) == pytest.approx(0.0)


def test_scanner_labels_are_as_bright_as_any_lesion_and_stay_off_it():
    plain = synthetic_lesions(40, size=32, seed=3)
    labelled = gradcam.add_scanner_labels(plain, 2, seed=0)
    changed = (labelled.images != plain.images).any(axis=1)  # (N, H, W) the label pixels
    assert changed.any(axis=(1, 2)).all()  # every image, healthy ones too, got labels
    assert not (changed & plain.masks).any()
    assert (labelled.images[:, 0][changed] == 1.0).all() and plain.images.max() <= 1.0
    assert (labelled.masks == plain.masks).all() and (labelled.labels == plain.labels).all()


def test_baselines_by_hand():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 2, 2] = masks[1, 0, 0] = (
        True  # image 0: lesion at the centre pixel; image 1: in a corner
    )
    images = np.zeros((2, 1, 4, 4), np.float32)
    images[0, 0, 2, 2] = 1.0  # image 0's lesion is its brightest pixel
    images[1, 0, 3, 3] = 1.0  # image 1's brightest pixel is a label elsewhere
    scores = gradcam.baseline_scores(images, masks)
    assert scores == {"brightest pixel": 0.5, "image centre": 0.5, "random pixel": 1 / 16}


def test_gradcam_scores_the_network_against_baselines(results):
    numbers = results["gradcam"].numbers
    assert set(numbers["baselines"]) == {"brightest pixel", "image centre", "random pixel"}
    best = max(numbers["baselines"].values())
    per_seed = numbers["pointing_game"]["per_seed"]
    assert numbers["claims"]["beats_every_baseline"]["per_seed"] == pytest.approx(
        [s - best for s in per_seed]
    )
    assert "brightest pixel" in results["gradcam"].text
    # The labels are what make the brightest-pixel baseline fail; without them it finds the lesion.
    assert numbers["brightest_pixel_without_labels"] > numbers["baselines"]["brightest pixel"]


def test_progress_bars_name_the_network(monkeypatch):
    from scratchnet.train import loop

    descriptions = []
    monkeypatch.setattr(
        loop,
        "_progress_bar",
        lambda loader, description, enabled: descriptions.append(description) or loader,
    )
    degradation.run(depths="8,14", widths="2,2,2", epochs=1, train_limit=16, seeds="0")
    assert descriptions == [
        "plain-8 seed 0: epoch 1/1",
        "plain-14 seed 0: epoch 1/1",
        "ResNet-14 seed 0: epoch 1/1",
    ]


def test_demos_run_as_modules():
    for name in (
        "train",
        "degradation",
        "aux_classifier",
        "se_excitation",
        "gradcam",
        "make_docs_figures",
    ):
        result = subprocess.run(
            [sys.executable, "-m", f"scratchnet.demos.{name}", "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "--out" in result.stdout


def test_make_docs_figures_writes_figures_and_merges_numbers(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scratchnet.demos import make_docs_figures

    calls = []

    def fake_run(name):
        def run(**options):
            calls.append((name, options))
            return RunResult(
                numbers={"effect": 0.5}, figures={f"{name}_figure": plt.figure()}, text=""
            )

        return run

    monkeypatch.setattr(train, "run", fake_run("train"))
    monkeypatch.setattr(gradcam, "run", fake_run("gradcam"))
    (tmp_path / "numbers.json").write_text(json.dumps({"degradation": {"kept": 1}}))
    numbers = make_docs_figures.main(
        ["--out", str(tmp_path), "--only", "train,gradcam", "--no-progress"]
    )
    assert calls == [
        ("train", {"no_progress": True}),
        ("gradcam", {"no_progress": True}),
    ]  # the defaults
    saved = json.loads((tmp_path / "numbers.json").read_text())
    assert (
        saved == numbers and saved["degradation"] == {"kept": 1} and saved["train"]["effect"] == 0.5
    )
    assert _png(tmp_path / "train_figure.png") and _png(tmp_path / "gradcam_figure.png")
    with pytest.raises(SystemExit, match="unknown demo"):
        make_docs_figures.main(["--out", str(tmp_path), "--only", "nope"])
    plt.close("all")
