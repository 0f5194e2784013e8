"""Helpers shared by the tests that compare scratchnet's models with torchvision's."""

from __future__ import annotations

import numpy as np


def randomize_(tv_model, torch, redraw_weights: bool = True):
    """Random biases and BatchNorm parameters and statistics (torchvision leaves them 0 and 1).

    With ``redraw_weights`` the conv and linear weights are redrawn He-scaled, so the outputs stay
    O(1); without it they keep torchvision's init (redrawing VGG's 133M weights costs seconds).
    """
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in tv_model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var") or (
                name.endswith("weight") and t.ndim == 1
            ):  # BN variance, gamma
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.ndim == 1:  # biases, BN beta, running means
                t.copy_(0.1 * torch.randn(t.shape, generator=gen))
            elif redraw_weights:
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / t[0].numel()) ** 0.5)
    return tv_model


def assert_close(actual, expected, rtol=1e-4):
    """Equal within ``rtol``, relative to each element and to the largest expected value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
