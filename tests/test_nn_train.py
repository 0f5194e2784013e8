"""End to end: a tiny CNN (conv - BN - ReLU - pool - GAP - linear)
learns a fixed batch with plain SGD."""

from __future__ import annotations

import numpy as np

import scratchnet as sn
from scratchnet import nn
from scratchnet.nn import functional as F


def _batch(n=16, classes=4, seed=0):
    """Each class is a random 3x8x8 prototype;
    the images are noisy copies of their class's prototype."""
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((classes, 3, 8, 8))
    labels = np.arange(n) % classes
    images = prototypes[labels] + 0.5 * rng.standard_normal((n, 3, 8, 8))
    return sn.tensor(images.astype(np.float32)), sn.tensor(labels)


def test_tiny_cnn_loss_drops_tenfold_in_100_sgd_steps():
    x, y = _batch()
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),  # global average pooling
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    losses = []
    for _ in range(100):
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with sn.no_grad():
            for p in model.parameters():
                p.array -= 0.5 * p.grad.array  # plain SGD, lr = 0.5
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, f"loss went from {losses[0]:.3f} to {losses[-1]:.3f}"
    model.eval()
    accuracy = (model(x).argmax(dim=1).array == y.array).mean()
    assert accuracy == 1.0
