"""Plots, feature maps, Grad-CAM and the DOT export of the autograd graph."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.data.transforms import resize
from scratchnet.train import History
from scratchnet.viz import (
    feature_maps,
    grad_cam,
    plot_confusion_matrix,
    plot_curves,
    plot_feature_maps,
    plot_filters,
    plot_gradcam,
    plot_history,
    pointing_game,
    render,
    to_dot,
)


def cam_net():
    """conv -> ReLU -> global average pooling -> linear: the network class activation maps need."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 5, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 3),
    )


def test_importing_viz_does_not_import_matplotlib():
    code = "import sys, scratchnet.viz, scratchnet.train; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_are_written(tmp_path):
    history = History(
        [
            {
                "epoch": e,
                "train_loss": 1 / e,
                "val_loss": 1.2 / e,
                "train_accuracy": 1 - 1 / (e + 1),
                "val_accuracy": 0.9 - 1 / (e + 2),
            }
            for e in range(1, 5)
        ]
    )
    plot_history(history, tmp_path / "curves.png", title="demo")
    plot_history(history.to_dict(), tmp_path / "curves2.png")
    plot_curves(
        {"plain-20": [0.5, 0.3], "plain-56": [0.6, 0.5]},
        tmp_path / "err.png",
        ylabel="error",
        logy=True,
    )
    cm = np.array([[5, 1], [2, 7]])
    plot_confusion_matrix(cm, ["benign", "malignant"], tmp_path / "cm.png")
    plot_confusion_matrix(np.eye(25, dtype=int), path=tmp_path / "cm25.png", normalize=True)
    plot_filters(nn.Conv2d(3, 10, 5), tmp_path / "rgb_filters.png")
    plot_filters(
        np.random.default_rng(0).standard_normal((7, 1, 3, 3)), tmp_path / "grey_filters.png"
    )
    for name in ("curves", "curves2", "err", "cm", "cm25", "rgb_filters", "grey_filters"):
        assert _is_png(tmp_path / f"{name}.png"), name


def test_feature_maps_equal_the_partial_forward(tmp_path):
    model = cam_net()
    model.train()
    x = np.random.default_rng(0).random((2, 1, 6, 6)).astype(np.float32)
    maps = feature_maps(model, "2", x)  # the second conv, by name
    with sn.no_grad():
        expected = model[2](model[1](model[0](sn.tensor(x))))
    np.testing.assert_allclose(maps, expected.numpy(), rtol=1e-6)
    assert model.training  # mode restored
    assert feature_maps(model, model[3], x).min() >= 0  # by module: after the ReLU
    plot_feature_maps(model, "0", x[0], tmp_path / "maps.png")
    assert _is_png(tmp_path / "maps.png")
    with pytest.raises(ValueError, match="was not called"):
        feature_maps(model, nn.ReLU(), x)


def test_feature_maps_figure_shows_the_input_and_one_colour_scale():
    model = cam_net()
    x = np.random.default_rng(1).random((1, 1, 6, 6)).astype(np.float32)
    fig = plot_feature_maps(model, "0", x[0])
    titled = [ax for ax in fig.axes if ax.get_title() == "input"]
    assert len(titled) == 1 and np.allclose(titled[0].images[0].get_array(), x[0, 0])
    maps = feature_maps(model, "0", x)[0]
    limits = {ax.images[0].get_clim() for ax in fig.axes if ax.images and ax not in titled}
    assert limits == {(maps.min(), maps.max())}  # every map on the same scale ...
    assert any(ax.get_ylabel() == "activation" for ax in fig.axes)  # ... which a colour bar shows
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_grad_cam_equals_class_activation_map_for_a_gap_head():
    """With GAP + linear after the layer, Grad-CAM is CAM
    (Zhou et al. 2016): ReLU(sum_k w_ck A_k)."""
    sn.manual_seed(1)
    model = cam_net()
    x = np.random.default_rng(2).random((3, 1, 7, 7)).astype(np.float32)
    cams = grad_cam(model, "3", x, target=2)
    activation = feature_maps(model, "3", x)  # (N, 5, 7, 7)
    w = model[6].weight.numpy()[2]  # (5,) the class-2 row of the linear layer
    expected = np.maximum(np.einsum("k,nkhw->nhw", w, activation), 0)
    expected = resize(expected, (7, 7))
    expected /= expected.reshape(3, -1).max(axis=1)[:, None, None]
    np.testing.assert_allclose(cams, expected, rtol=1e-4, atol=1e-6)
    assert cams.shape == (3, 7, 7) and cams.max() == pytest.approx(1.0)


def test_grad_cam_leaves_grads_and_mode_alone():
    model = cam_net()
    model.train()
    before = {name: None for name, _ in model.named_parameters()}
    # default target: the prediction
    cams = grad_cam(model, model[2], np.ones((1, 1, 5, 5), np.float32))
    assert cams.shape == (1, 5, 5) and 0 <= cams.min() and cams.max() <= 1
    assert model.training
    assert {name: p.grad for name, p in model.named_parameters()} == before
    model(sn.ones(1, 1, 5, 5)).sum().backward()  # gradients of a training step, kept as they are
    before = {name: p.grad.tolist() for name, p in model.named_parameters()}
    grad_cam(model, model[2], np.ones((1, 1, 5, 5), np.float32))
    assert {name: p.grad.tolist() for name, p in model.named_parameters()} == before


def test_pointing_game_and_plot(tmp_path):
    cams = np.zeros((3, 4, 4))
    cams[0, 1, 1] = cams[1, 3, 3] = cams[2, 0, 0] = 1
    masks = np.zeros((3, 4, 4), bool)
    masks[0, :2, :2] = masks[1, :2, :2] = True  # image 2 has no lesion: skipped
    assert pointing_game(cams, masks) == 0.5
    plot_gradcam(
        np.random.default_rng(0).random((3, 1, 4, 4)), cams, ["a", "b", "c"], tmp_path / "cam.png"
    )
    assert _is_png(tmp_path / "cam.png")


# --------------------------------------------------------------------------- the graph


def test_to_dot_names_parameters_and_ops(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    loss = model(sn.randn(5, 4)).sum()
    dot = to_dot(loss, model, title="tiny MLP")
    assert dot.startswith("digraph computation {") and dot.rstrip().endswith("}")
    for text in ("0.weight", "2.bias", "(5, 4)", 'label="tiny MLP"', "Relu"):
        assert text.lower() in dot.lower(), text
    assert dot.count("shape=box") >= 4  # matmul/linear, relu, linear, sum
    rendered = render(dot, tmp_path / "graph")
    assert (tmp_path / "graph.dot").read_text() == dot
    if shutil.which("dot"):
        assert rendered is not None and rendered.read_text().lstrip().startswith("<?xml")
    else:
        assert rendered is None
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        to_dot(loss)


def test_to_dot_on_a_deep_chain_is_iterative():
    x = sn.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit allows a recursive walk
        y = y * 1.0
    dot = to_dot(y)
    assert dot.count("shape=box") == 3000
