"""Checks for lab 9. Run them from this folder with:  python -m scratchnet.labs check ."""

import make_dataset
import medical_cnn as lab
import numpy as np

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import medmnist
from scratchnet.data.transforms import resize
from scratchnet.labs.expect import expect_close, expect_equal, expect_shape
from scratchnet.nn import functional as F
from scratchnet.train.metrics import roc_auc
from scratchnet.viz import grad_cam as reference_grad_cam

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"9.1": 2, "9.2": 3, "9.3": 2, "9.4": 2, "9.5": 3, "9.6": 3, "9.7": 2, "9.8": 3}


def test_stand_in_dataset(tmp_path):
    """Setup: the stand-in has MedMNIST's keys, shapes and dtypes,
    about 75% lesions, and is the same every time"""
    sizes = {"train": 40, "val": 12, "test": 12}
    first = make_dataset.make_synthetic_medmnist(tmp_path / "a.npz", sizes=sizes)
    second = make_dataset.make_synthetic_medmnist(tmp_path / "b.npz", sizes=sizes)
    with np.load(first) as a, np.load(second) as b:
        for split, count in sizes.items():
            expect_shape(a[f"{split}_images"], (count, 28, 28), f"{split}_images")
            expect_shape(a[f"{split}_labels"], (count, 1), f"{split}_labels")
            expect_equal(a[f"{split}_images"].dtype, np.uint8, f"{split}_images dtype")
        for key in a.files:
            if not np.array_equal(a[key], b[key]):
                raise AssertionError(f"two files made with the same seed differ in {key}")
        share = a["train_labels"].mean()
    if not 0.6 < share < 0.9:
        raise AssertionError(
            f"share of lesion images in train: expected about 0.75, got {share:.2f}"
        )
    dataset = medmnist("pneumoniamnist", "val", root=first)
    expect_shape(dataset.images, (12, 1, 28, 28), "scratchnet.data.medmnist reads it: val images")


def test_preprocessing():
    """Task 9.1: pixel_stats of the [0, 1] pixels;
    normalize gives float32 with mean 0 and std 1 on that data"""
    images = np.random.default_rng(0).integers(0, 256, size=(6, 1, 5, 5)).astype(np.uint8)
    mean, std = lab.pixel_stats(images)
    expect_close(mean, (images / 255).mean(), "pixel_stats(images)[0] (mean of images / 255)")
    expect_close(std, (images / 255).std(), "pixel_stats(images)[1] (std of images / 255)")
    x = lab.normalize(images, mean, std)
    expect_shape(x, images.shape, "normalize(images, mean, std)")
    expect_equal(x.dtype, np.float32, "normalize(...).dtype")
    expect_close(x.mean(), 0.0, "mean of the normalised images", atol=1e-5)
    expect_close(x.std(), 1.0, "std of the normalised images", atol=1e-4)


def test_small_cnn():
    """Task 9.2: SmallCNN maps (N, 1, 28, 28) to (N, 2) through 32 maps of 7x7; 6,066 parameters"""
    model = lab.SmallCNN()
    x = sn.randn(3, 1, 28, 28)
    expect_shape(model(x), (3, 2), "SmallCNN()(x of shape (3, 1, 28, 28))")
    expect_shape(model.features(x), (3, 32, 7, 7), "model.features(x)")
    if not isinstance(model.target_layer, nn.ReLU):
        raise AssertionError(
            "target_layer should be the last ReLU of features, got "
            f"{type(model.target_layer).__name__}"
        )
    expect_equal(sum(p.numel() for p in model.parameters()), 6_066, "parameters of SmallCNN()")


def test_class_weights():
    """Task 9.3: class_weights are N / (K * n_c): each class weighs the same in the loss"""
    labels = np.array([0, 1, 1, 1, 1, 1, 0, 1])
    weights = lab.class_weights(labels)
    expect_close(weights, [8 / (2 * 2), 8 / (2 * 6)], "class_weights([0, 1, 1, 1, 1, 1, 0, 1])")
    expect_equal(weights.dtype, np.float32, "class_weights(...).dtype")


def test_lesion_probability():
    """Task 9.4: lesion_probability is softmax(logits)[:, 1]
    in eval mode, without touching batch norm's statistics"""
    model = lab.SmallCNN()
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    before = model.features[1].running_mean.numpy().copy()
    p = lab.lesion_probability(model, x)
    expect_shape(p, (4,), "lesion_probability(model, x of 4 images)")
    if model.training:
        raise AssertionError(
            "lesion_probability should leave the model in eval mode (model.eval())"
        )
    expect_close(
        model.features[1].running_mean, before, "batch norm's running_mean after lesion_probability"
    )
    with sn.no_grad():
        expected = F.softmax(model(sn.tensor(x)), dim=1).numpy()[:, 1]
    expect_close(p, expected, "lesion_probability vs softmax(model(x))[:, 1]", atol=1e-6)


def test_binary_metrics_example():
    """Task 9.5: binary_metrics on a small example:
    accuracy, sensitivity, specificity, precision, AUC"""
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.7])
    labels = np.array([1, 1, 1, 0, 0, 0])
    metrics = lab.binary_metrics(scores, labels)
    # threshold 0.5: TP = 2 (0.9, 0.8), FN = 1 (0.3), FP = 2 (0.6, 0.7), TN = 1 (0.2)
    expected = {
        "accuracy": 3 / 6,
        "sensitivity": 2 / 3,
        "specificity": 1 / 3,
        "precision": 2 / 4,
        "auc": 7 / 9,
    }
    for key, value in expected.items():
        if key not in metrics:
            raise AssertionError(
                f"binary_metrics(...) has no key {key!r}; it has {sorted(metrics)}"
            )
        expect_close(metrics[key], value, f"binary_metrics(...)['{key}']")


def test_binary_metrics_auc_with_ties():
    """Task 9.5: the AUC counts ties as 1/2 and matches scratchnet's roc_auc"""
    rng = np.random.default_rng(2)
    labels = (rng.random(60) < 0.7).astype(int)
    scores = np.round(rng.random(60) * 0.6 + 0.4 * labels, 1)  # rounded: many ties
    expect_close(
        lab.binary_metrics(scores, labels)["auc"], roc_auc(scores, labels), "AUC with tied scores"
    )
    expect_close(
        lab.binary_metrics(np.full(10, 0.5), np.arange(10) % 2)["auc"],
        0.5,
        "AUC of a constant score",
    )


def cam_model():
    """conv (stride 2) -> ReLU -> global average pooling -> linear:
    its Grad-CAM is CAM, known in closed form."""
    sn.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 3, 2, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    )


def test_grad_cam_closed_form():
    """Task 9.6: for a GAP + linear head, Grad-CAM = relu(sum_k w_ck A_k),
    resized and scaled to max 1"""
    model = cam_model()
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)
    for class_index in (0, 1):
        cams = lab.grad_cam(model, model[1], x, class_index)
        expect_shape(cams, (2, 8, 8), "grad_cam(model, layer, x of shape (2, 1, 8, 8))")
        with sn.no_grad():
            activations = model[1](model[0](sn.tensor(x))).numpy()  # (2, 3, 4, 4)
        # d y_c / d A_k = w_ck / (h * w) everywhere
        alpha = model[4].weight.numpy()[class_index] / 16
        expected = resize(np.maximum(np.einsum("k,nkhw->nhw", alpha, activations), 0), (8, 8))
        expected /= np.maximum(expected.max(axis=(1, 2), keepdims=True), 1e-12)
        expect_close(cams, expected, f"grad_cam for class {class_index}", atol=1e-5)
    if model[1]._forward_hooks:
        raise AssertionError("grad_cam left a forward hook on the layer: call handle.remove()")


def test_grad_cam_matches_scratchnet():
    """Task 9.6: on SmallCNN (batch norm, pooling),
    your grad_cam agrees with scratchnet.viz.grad_cam"""
    sn.manual_seed(5)
    model = lab.SmallCNN()
    x = np.random.default_rng(6).standard_normal((3, 1, 28, 28)).astype(np.float32)
    expected = reference_grad_cam(model, model.target_layer, x, target=1)
    expect_close(
        lab.grad_cam(model, model.target_layer, x, class_index=1),
        expected,
        "grad_cam(SmallCNN)",
        atol=1e-5,
    )


def test_pointing_game():
    """Task 9.7: pointing_game counts the lesion images whose map peaks inside the mask"""
    cams = np.zeros((3, 4, 4))
    cams[0, 1, 1] = cams[1, 3, 3] = cams[2, 0, 0] = 1.0
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[0, 0:2, 0:2] = True  # contains (1, 1): a hit
    masks[1, 0:2, 0:2] = True  # does not contain (3, 3): a miss; image 2 has no lesion: not counted
    expect_close(
        lab.pointing_game(cams, masks),
        0.5,
        "pointing_game (one hit, one miss, one image without lesion)",
    )
    if not np.isnan(lab.pointing_game(cams, np.zeros_like(masks))):
        raise AssertionError("pointing_game with no lesion at all should be NaN")


def test_project_end_to_end(tmp_path):
    """Task 9.8: the whole project: 2 epochs on 400 images
    give a val AUC > 0.75; the maps find lesions (> 0.3)"""
    path = make_dataset.make_synthetic_medmnist(
        tmp_path / "small.npz", sizes={"train": 400, "val": 200}
    )
    train_images, train_labels, _ = lab.load_split(path, "train")
    val_images, val_labels, val_masks = lab.load_split(path, "val")
    mean, std = lab.pixel_stats(train_images)
    sn.manual_seed(0)
    model = lab.SmallCNN()
    lab.train_model(
        model,
        lab.normalize(train_images, mean, std),
        train_labels,
        epochs=2,
        weights=lab.class_weights(train_labels),
    )
    x_val = lab.normalize(val_images, mean, std)
    auc = lab.binary_metrics(lab.lesion_probability(model, x_val), val_labels)["auc"]
    if not auc > 0.75:
        raise AssertionError(f"validation AUC after 2 epochs: expected above 0.75, got {auc:.3f}")
    hits = lab.pointing_game(lab.grad_cam(model, model.target_layer, x_val), val_masks)
    if not hits > 0.3:
        raise AssertionError(
            "pointing game on the validation lesions: "
            f"expected above 0.3 (chance ~0.1), got {hits:.2f}"
        )
