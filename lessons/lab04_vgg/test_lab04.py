"""Checks for lab 4. Run them from this folder with:  python -m scratchnet.labs check ."""

import numpy as np
import pytest
import vgg16_table as lab

import scratchnet as sn
from scratchnet import nn
from scratchnet.labs.expect import expect_equal, expect_shape

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"4.1": 3, "4.2": 4, "4.3": 4, "4.4": 4, "4.5": 5}

# Slide "VGGNet (3)", row by row: (name, memory, params), params without biases.
SLIDE = [
    ("INPUT", 224 * 224 * 3, 0),
    ("CONV3-64", 224 * 224 * 64, 1_728),
    ("CONV3-64", 224 * 224 * 64, 36_864),
    ("POOL2", 112 * 112 * 64, 0),
    ("CONV3-128", 112 * 112 * 128, 73_728),
    ("CONV3-128", 112 * 112 * 128, 147_456),
    ("POOL2", 56 * 56 * 128, 0),
    ("CONV3-256", 56 * 56 * 256, 294_912),
    ("CONV3-256", 56 * 56 * 256, 589_824),
    ("CONV3-256", 56 * 56 * 256, 589_824),
    ("POOL2", 28 * 28 * 256, 0),
    ("CONV3-512", 28 * 28 * 512, 1_179_648),
    ("CONV3-512", 28 * 28 * 512, 2_359_296),
    ("CONV3-512", 28 * 28 * 512, 2_359_296),
    ("POOL2", 14 * 14 * 512, 0),
    ("CONV3-512", 14 * 14 * 512, 2_359_296),
    ("CONV3-512", 14 * 14 * 512, 2_359_296),
    ("CONV3-512", 14 * 14 * 512, 2_359_296),
    ("POOL2", 7 * 7 * 512, 0),
    ("FC", 4096, 102_760_448),
    ("FC", 4096, 16_777_216),
    ("FC", 1000, 4_096_000),
]

# torchvision's parameter counts (weights and biases, 1000 classes).
PUBLISHED = {11: 132_863_336, 13: 133_047_848, 16: 138_357_544, 19: 143_667_240}

TINY = [4, "M", 8, 8, "M"]  # a VGG-shaped config small enough to run in a test


def count_params(config, image_size=224, hidden=4096, classes=1000):
    """Weights and biases of a VGG built from ``config``, by arithmetic (the tests' own oracle)."""
    total, channels, side = 0, 3, image_size
    for entry in config:
        if entry == "M":
            side //= 2
        else:
            total += 9 * channels * entry + entry
            channels = entry
    for units_in, units_out in [
        (channels * side * side, hidden),
        (hidden, hidden),
        (hidden, classes),
    ]:
        total += units_in * units_out + units_out
    return total


def test_stack_of_3x3():
    """Task 4.1: three 3x3 convs see 7x7 with 27C^2 weights;
    one 7x7 needs 49C^2 (slide "VGGNet (2)")"""
    expect_equal(lab.stack_receptive_field(1), 3, "stack_receptive_field(1)")
    expect_equal(lab.stack_receptive_field(2), 5, "stack_receptive_field(2)")
    expect_equal(lab.stack_receptive_field(3), 7, "stack_receptive_field(3)")
    expect_equal(lab.stack_receptive_field(1, kernel=7), 7, "stack_receptive_field(1, kernel=7)")
    expect_equal(lab.stack_weights(64, 3), 27 * 64 * 64, "stack_weights(64, layers=3)")
    expect_equal(
        lab.stack_weights(64, 1, kernel=7), 49 * 64 * 64, "stack_weights(64, layers=1, kernel=7)"
    )


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
def test_config_shape(depth):
    """Task 4.2: vgg_config has depth - 3 convs in five stages of 64, 128, 256, 512, 512 channels"""
    config = lab.vgg_config(depth)
    expect_equal(
        sum(entry != "M" for entry in config), depth - 3, f"number of convs in vgg_config({depth})"
    )
    expect_equal(config.count("M"), 5, f"number of 'M' in vgg_config({depth})")
    expect_equal(config[-1], "M", f"last entry of vgg_config({depth})")
    stages, current = [], []
    for entry in config:
        if entry == "M":
            stages.append(sorted(set(current)))
            current = []
        else:
            current.append(entry)
    expect_equal(
        stages, [[64], [128], [256], [512], [512]], f"channels of each stage of vgg_config({depth})"
    )
    expect_equal(
        count_params(config),
        PUBLISHED[depth],
        f"parameters of a VGG-{depth} built from your config",
    )


def test_config_rejects_unknown_depth():
    """Task 4.2: vgg_config raises ValueError for a depth that VGG does not have"""
    with pytest.raises(ValueError):
        lab.vgg_config(17)


def test_make_features():
    """Task 4.3: make_features builds conv3x3-ReLU pairs and 2x2 pools, in one Sequential"""
    features = lab.make_features(TINY)
    kinds = [type(layer).__name__ for layer in features]
    expect_equal(
        kinds,
        ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"],
        "the layers of make_features([4, 'M', 8, 8, 'M'])",
    )
    first = features[0]
    expect_equal(
        (first.kernel_size, first.padding, first.stride),
        ((3, 3), (1, 1), (1, 1)),
        "the first conv's (kernel_size, padding, stride)",
    )
    y = features(sn.randn(2, 3, 8, 8))
    expect_shape(y, (2, 8, 2, 2), "make_features([4, 'M', 8, 8, 'M']) on a (2, 3, 8, 8) batch")


def test_vgg_forward_and_names():
    """Task 4.4: VGG runs, and its state_dict keys are
    torchvision's (features.0.weight ... classifier.6.bias)"""
    model = lab.VGG(TINY, num_classes=5, image_size=8, hidden=16)
    expect_shape(
        model(sn.randn(2, 3, 8, 8)),
        (2, 5),
        "VGG(TINY, num_classes=5, image_size=8, hidden=16) output",
    )
    keys = [key for key in model.state_dict() if key.startswith("classifier")]
    expect_equal(
        keys,
        [
            "classifier.0.weight",
            "classifier.0.bias",
            "classifier.3.weight",
            "classifier.3.bias",
            "classifier.6.weight",
            "classifier.6.bias",
        ],
        "the classifier's state_dict keys",
    )
    expect_equal(
        model.classifier[0].in_features, 8 * 2 * 2, "in_features of the first FC layer (C * s * s)"
    )
    n_params = sum(p.numel() for p in model.parameters())
    expect_equal(
        n_params,
        count_params(TINY, image_size=8, hidden=16, classes=5),
        "parameters of the tiny VGG",
    )


def test_vgg_dropout_only_in_training():
    """Task 4.4: the classifier's dropout is active in train() and off in eval()"""
    model = lab.VGG(TINY, num_classes=3, image_size=8, hidden=32)
    x = sn.randn(4, 3, 8, 8)
    model.train()
    if np.allclose(model(x).numpy(), model(x).numpy()):
        raise AssertionError(
            "in train mode two forward passes of the same batch agree: where is the dropout?"
        )
    model.eval()
    if not np.allclose(model(x).numpy(), model(x).numpy()):
        raise AssertionError(
            "in eval mode two forward passes of the same batch differ: is dropout still active?"
        )


def test_table_matches_slide():
    """Task 4.5: vgg_table(VGG16) reproduces slide "VGGNet (3)" row by row"""
    rows = lab.vgg_table(lab.vgg_config(16))
    expect_equal(
        len(rows), len(SLIDE), "number of rows of VGG16's table (input, 13 conv, 5 pool, 3 FC)"
    )
    for i, (row, (name, memory, params)) in enumerate(zip(rows, SLIDE, strict=True)):
        expect_equal(
            (row.name, row.memory, row.params),
            (name, memory, params),
            f"row {i} (name, memory, params)",
        )
    expect_equal(rows[1].shape, (224, 224, 64), "row 1's shape (H, W, C)")


def test_table_totals():
    """Task 4.5: VGG16 has 138,344,128 weights (the slide's 138M) and 15.2M activations per image"""
    rows = lab.vgg_table(lab.vgg_config(16))
    expect_equal(sum(r.params for r in rows), 138_344_128, "total weights of VGG16 (no biases)")
    expect_equal(
        sum(r.memory for r in rows), 15_237_608, "total activations of VGG16 per image (forward)"
    )


def test_table_agrees_with_the_model():
    """Task 4.5: the table's weights add up to the weights of your VGG (any configuration)"""
    config = [4, 4, "M", 6, "M"]
    model = lab.VGG(config, num_classes=3, image_size=8, hidden=10)
    weights = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    rows = lab.vgg_table(config, image_size=8, hidden=10, num_classes=3)
    expect_equal(
        sum(r.params for r in rows), weights, "the table's total vs the model's weights (no biases)"
    )
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    expect_equal(
        len([r for r in rows if r.name.startswith("CONV")]), len(convs), "conv rows vs convs"
    )
