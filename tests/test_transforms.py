"""Augmentation transforms and test-time augmentation (GoogLeNet's 144 crops)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import transforms as T
from scratchnet.data import tta


@pytest.fixture
def batch():
    return np.random.default_rng(0).random((6, 3, 12, 10)).astype(np.float32)


@pytest.mark.parametrize("size", [(5, 7), (24, 17), (12, 10), (1, 3)])
def test_resize_matches_torch_bilinear(torch, batch, size):
    ours = T.resize(batch, size)
    theirs = torch.nn.functional.interpolate(
        torch.tensor(batch), size=size, mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_resize_identity_and_constant(batch):
    np.testing.assert_allclose(T.resize(batch, (12, 10)), batch, atol=1e-7)
    np.testing.assert_allclose(T.resize(np.full((1, 4, 4), 0.3), 9), 0.3)


def test_transforms_accept_one_image_or_a_batch(batch):
    flip = T.RandomHorizontalFlip(p=1.0)
    np.testing.assert_array_equal(flip(batch[0]), batch[0][:, :, ::-1])
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        flip(batch[0, 0])


def test_flip_is_per_image(batch):
    out = T.RandomHorizontalFlip(p=0.5)(batch, rng=np.random.default_rng(3))
    flipped = [np.array_equal(o, b[:, :, ::-1]) for o, b in zip(out, batch, strict=True)]
    kept = [np.array_equal(o, b) for o, b in zip(out, batch, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


def test_random_crop_is_a_window_of_the_padded_image(batch):
    out = T.RandomCrop((12, 10), padding=2)(batch, rng=np.random.default_rng(0))
    padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for o, p in zip(out, padded, strict=True):
        windows = [
            (i, j)
            for i in range(5)
            for j in range(5)
            if np.array_equal(p[:, i : i + 12, j : j + 10], o)
        ]
        assert windows, "each crop must be a window of the padded image"
    crop = T.RandomCrop((12, 10))(batch)
    np.testing.assert_array_equal(crop, batch)  # no padding, same size: nothing to choose
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(20)(batch)


def test_center_crop_and_resize_shorter_side(batch):
    assert T.CenterCrop(4)(batch).shape == (6, 3, 4, 4)
    np.testing.assert_array_equal(T.CenterCrop((2, 2))(batch), batch[:, :, 5:7, 4:6])
    assert T.Resize(20)(batch).shape == (6, 3, 24, 20)  # shorter side (W=10) -> 20


def test_random_resized_crop_follows_googlenet_bounds():
    rrc = T.RandomResizedCrop(32)
    rng = np.random.default_rng(0)
    boxes = np.array([rrc.crop_box(200, 300, rng) for _ in range(2000)])
    top, left, h, w = boxes.T
    area, aspect = h * w / (200 * 300), w / h
    assert area.min() >= 0.07 and area.max() <= 1.0  # 8%-100% of the area (rounding aside)
    # 3/4 .. 4/3 (rounding to whole pixels aside)
    assert aspect.min() >= 0.73 and aspect.max() <= 1.37
    assert (top + h <= 200).all() and (left + w <= 300).all() and (top >= 0).all()
    # the whole range (a 3:2 image fits at most 4:3 = 89%)
    assert area.min() < 0.1 and area.max() > 0.85
    out = rrc(np.random.default_rng(1).random((4, 3, 50, 60)).astype(np.float32), rng=rng)
    assert out.shape == (4, 3, 32, 32) and out.dtype == np.float32


def test_random_resized_crop_fallback_is_central():
    rrc = T.RandomResizedCrop(8, scale=(5.0, 6.0))  # impossible areas: always the fallback
    assert rrc.crop_box(10, 40, np.random.default_rng(0)) == (0, 13, 10, 13)  # widest allowed: 4/3


def test_photometric_distortion(batch):
    out = T.PhotometricDistortion()(batch, rng=np.random.default_rng(0))
    assert out.shape == batch.shape and out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, batch)
    grey = T.PhotometricDistortion(brightness=0.0, contrast=0.0, saturation=0.9)(batch[:, :1])
    np.testing.assert_allclose(grey, batch[:, :1], atol=1e-6)  # saturation leaves grey images alone
    constant = np.full((2, 3, 4, 4), 0.5, np.float32)
    same = T.PhotometricDistortion(brightness=0.0, contrast=0.5, saturation=0.5)(constant)
    np.testing.assert_allclose(same, constant, atol=1e-6)  # nothing to stretch in a flat image


def test_normalize_and_compose(batch):
    norm = T.Normalize(mean=[0.5, 0.4, 0.3], std=[0.1, 0.2, 0.5])
    out = norm(batch)
    np.testing.assert_allclose(out[:, 1], (batch[:, 1] - 0.4) / 0.2, rtol=1e-6)
    pipeline = T.Compose([T.RandomHorizontalFlip(p=1.0), norm])
    np.testing.assert_allclose(pipeline(batch), norm(batch)[..., ::-1], rtol=1e-6)
    assert "RandomHorizontalFlip" in repr(pipeline)


def test_same_rng_same_augmentation(batch):
    pipeline = T.Compose(
        [T.RandomCrop(10, padding=1), T.RandomHorizontalFlip(), T.PhotometricDistortion()]
    )
    a = pipeline(batch, rng=np.random.default_rng(5))
    b = pipeline(batch, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- test-time augmentation


def test_googlenet_144_crops_layout():
    assert tta.scales_for(224) == (256, 288, 320, 352)
    image = np.random.default_rng(0).random((3, 30, 40)).astype(np.float32)  # landscape
    crops = tta.googlenet_crops(image, crop_size=16)
    assert crops.shape == (144, 3, 16, 16)
    # each view is followed by its mirror
    np.testing.assert_array_equal(crops[1], crops[0][:, :, ::-1])
    # the first view: top-left corner of the left square of the image resized to shorter side 18
    resized = T.resize(image, (18, 24))
    np.testing.assert_allclose(crops[0], resized[:, :16, :16])
    # the 6th view of a square is the whole square shrunk to the crop
    np.testing.assert_allclose(crops[10], T.resize(resized[:, :, :18], 16), rtol=1e-6)
    portrait = tta.googlenet_crops(image.transpose(0, 2, 1), crop_size=16, scales=(16, 20))
    assert portrait.shape == (2 * 3 * 6 * 2, 3, 16, 16)


class _MeanBrightness:
    """A stand-in model: logits that favour class 1 for bright views, class 0 for dark ones."""

    training = False

    def __call__(self, x):
        mean = x.numpy().mean(axis=(1, 2, 3))
        return type(x)(np.stack([10 * (0.5 - mean), 10 * (mean - 0.5)], axis=1))


def test_predict_144_crops_mean_and_vote():
    rng = np.random.default_rng(0)
    images = np.stack([np.full((1, 20, 20), 0.1), np.full((1, 20, 20), 0.9)]).astype(np.float32)
    images += 0.01 * rng.standard_normal(images.shape).astype(np.float32)
    probs = tta.predict_144_crops(_MeanBrightness(), images, crop_size=16)
    assert probs.shape == (2, 2) and probs.argmax(axis=1).tolist() == [0, 1]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    votes = tta.predict_144_crops(_MeanBrightness(), images, crop_size=16, reduce="vote")
    np.testing.assert_array_equal(votes, [[1.0, 0.0], [0.0, 1.0]])  # all 144 views agree


def test_combine_mean_vs_vote():
    p = np.array([[0.6, 0.4], [0.6, 0.4], [0.0, 1.0]])
    np.testing.assert_allclose(tta.combine(p, "mean"), [0.4, 0.6])  # averaging: class 1
    np.testing.assert_allclose(tta.combine(p, "vote"), [2 / 3, 1 / 3])  # voting: class 0
    with pytest.raises(ValueError, match="unknown reduce"):
        tta.combine(p, "median")
    np.testing.assert_allclose(tta.softmax(np.array([[1e4, 0.0]])), [[1.0, 0.0]])
    assert tta.flip_views(np.zeros((1, 2, 3))).shape == (2, 1, 2, 3)
