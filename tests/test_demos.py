"""Every demo's main() runs end to end with tiny settings and writes its figures and metrics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import tensor
from scratchnet.demos import aux_classifier, degradation, gradcam, se_excitation, train
from scratchnet.demos.common import load_split, small_cnn
from scratchnet.train import load_checkpoint

QUIET = ["--no-progress"]


def _png(path):
    return path.exists() and path.read_bytes()[:4] == b"\x89PNG"


def test_train_demo_writes_metrics_figures_and_checkpoint(tmp_path):
    metrics = train.main(
        ["--dataset", "digits", "--epochs", "1", "--train-limit", "96", "--out", str(tmp_path), *QUIET]
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "history"):
        assert key in saved, key
    assert saved["epochs"] == 1 and 0 <= saved["test_accuracy"] <= 1 and saved == json.loads(json.dumps(metrics))
    assert len(saved["history"]["train_loss"]) == 1
    for name in ("curves", "confusion_matrix", "filters", "feature_maps"):
        assert _png(tmp_path / f"{name}.png"), name
    model = small_cnn(1, 10)
    state = load_checkpoint(tmp_path / "checkpoint.npz", model)
    assert state["epoch"] == 1


def test_train_demo_with_a_zoo_model_on_grey_images(tmp_path):
    """A model built for RGB input gets the grey digits repeated to three channels."""
    args = ["--model", "resnet20", "--epochs", "1", "--train-limit", "32", "--batch-size", "16", "--optimizer", "adam"]
    metrics = train.main([*args, "--lr", "0.01", "--augment", "--out", str(tmp_path), *QUIET])
    assert metrics["model"] == "resnet20" and metrics["parameters"] == 269_722


def test_train_demo_rejects_unknown_names(tmp_path):
    with pytest.raises(SystemExit):
        train.main(["--model", "no_such_net", "--out", str(tmp_path), *QUIET])
    with pytest.raises(ValueError, match="unknown dataset"):
        load_split("imagenet", "train")


def test_degradation_demo(tmp_path):
    args = ["--depths", "8,14", "--widths", "4,4,4", "--epochs", "2", "--train-limit", "64", "--out", str(tmp_path)]
    metrics = degradation.main(args + QUIET)
    assert set(metrics["training_error"]) == {"plain-8", "plain-14", "ResNet-14"}
    assert all(len(v) == 2 for v in metrics["training_error"].values())
    assert _png(tmp_path / "degradation.png") and (tmp_path / "metrics.json").exists()


def test_aux_classifier_demo(tmp_path):
    args = ["--depth", "6", "--width", "4", "--epochs", "1", "--train-limit", "64", "--out", str(tmp_path)]
    metrics = aux_classifier.main(args + QUIET)
    norms = metrics["results"]["with auxiliary heads"]["gradient_norms_at_init"]
    assert len(norms) == 6 and metrics["first_layer_gradient_ratio"] > 1  # the heads add gradient early on
    assert _png(tmp_path / "aux_gradients.png") and _png(tmp_path / "aux_training.png")


def test_aux_net_returns_googlenet_outputs_in_training_only():
    net = aux_classifier.DeepPlainNet(1, 10, depth=6, width=4)
    x = np.zeros((2, 1, 8, 8), np.float32)
    outputs = net(tensor(x))
    assert type(outputs).__name__ == "GoogLeNetOutputs" and outputs.logits.shape == (2, 10)
    net.eval()
    assert net(tensor(x)).shape == (2, 10)


def test_se_excitation_demo(tmp_path):
    args = ["--widths", "4,4,8", "--epochs", "1", "--train-limit", "64", "--out", str(tmp_path)]
    metrics = se_excitation.main(args + QUIET)
    assert len(metrics["class_spread"]) == 3 and all(0 <= v <= 0.5 for v in metrics["class_spread"].values())
    assert _png(tmp_path / "se_excitation.png")


def test_class_spread_by_hand():
    labels = np.array([0, 0, 1, 1])
    determined = np.array([[0.1, 0.5], [0.1, 0.5], [0.9, 0.5], [0.9, 0.5]])  # channel 0 tells the class
    agnostic = np.array([[0.1], [0.9], [0.1], [0.9]])  # the same mean in every class
    assert se_excitation.class_spread(determined, labels) == pytest.approx((0.4 + 0.0) / 2)
    assert se_excitation.class_spread(agnostic, labels) == pytest.approx(0.0)


def test_gradcam_demo(tmp_path):
    args = ["--size", "16", "--samples", "64", "--width", "4", "--epochs", "1", "--show", "4", "--out", str(tmp_path)]
    metrics = gradcam.main(args + QUIET)
    assert 0 <= metrics["pointing_game"] <= 1 and metrics["images_scored"] > 0
    assert _png(tmp_path / "gradcam.png")


def test_demos_run_as_modules():
    for name in ("train", "degradation", "aux_classifier", "se_excitation", "gradcam"):
        result = subprocess.run([sys.executable, "-m", f"scratchnet.demos.{name}", "--help"],
                                capture_output=True, text=True, check=True)  # fmt: skip
        assert "--out" in result.stdout
