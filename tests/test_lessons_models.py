"""The model additions the lessons need: AlexNet (torchvision's layout) and the paper's pool in
GoogLeNet's auxiliary heads (``InceptionAux(pool="paper")``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import count_params

import scratchnet
from scratchnet.models import alexnet
from scratchnet.models.googlenet import InceptionAux


def test_alexnet_matches_torchvision_layout_and_output():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    ours = alexnet(num_classes=10)
    theirs = torchvision.models.alexnet(num_classes=10)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    # at 1000 classes: the last layer has 4096 * 990 + 990 more parameters than at 10
    assert count_params(ours) + 4096 * 990 + 990 == 61_100_840
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    x = (
        np.random.default_rng(0).standard_normal((2, 3, 96, 96)).astype(np.float32)
    )  # any size >= 63
    with scratchnet.no_grad(), torch.no_grad():
        np.testing.assert_allclose(
            ours(scratchnet.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), atol=1e-4
        )


def test_inception_aux_paper_pool_is_5x5_stride_3():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 512, 14, 14)).astype(np.float32)
    heads = {pool: InceptionAux(512, 10, pool=pool) for pool in ("adaptive", "paper")}
    pooled = {}
    for pool, head in heads.items():
        head.conv.register_forward_pre_hook(
            lambda m, a, pool=pool: pooled.__setitem__(pool, a[0].numpy())
        )
        head.eval()
        with scratchnet.no_grad():
            assert head(scratchnet.tensor(x)).shape == (2, 10)
    expected = torch.nn.functional.avg_pool2d(torch.tensor(x), kernel_size=5, stride=3).numpy()
    np.testing.assert_allclose(pooled["paper"], expected, rtol=1e-5, atol=1e-6)
    adaptive = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), 4).numpy()
    np.testing.assert_allclose(pooled["adaptive"], adaptive, rtol=1e-5, atol=1e-6)
    assert np.abs(pooled["paper"] - pooled["adaptive"]).max() > 0.01  # not the same window
    with pytest.raises(ValueError, match="pool must be"):
        InceptionAux(512, 10, pool="max")
