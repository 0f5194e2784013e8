"""Learning-rate schedules: the learning rate at every epoch equals PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from scratchnet.io.npz import load, save
from scratchnet.optim import lr_scheduler

SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 9], "gamma": 0.1}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),  # runs past T_max: the cosine rises again
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 4}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 6}),
]


def _two_groups(module):
    """An SGD optimizer with two groups of different learning rates, in scratchnet or torch."""
    if module is optim:
        a, b = sn.zeros(2, requires_grad=True), sn.zeros(3, requires_grad=True)
    else:
        a, b = module.zeros(2, requires_grad=True), module.zeros(3, requires_grad=True)
        module = module.optim
    return module.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)


def _lrs(optimizer, scheduler, epochs, metrics=None):
    history = []
    for epoch in range(epochs):
        history.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
    return np.array(history)


@pytest.mark.parametrize(
    ("name", "kwargs"), SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)]
)
def test_schedule_matches_torch(torch, name, kwargs):
    ours_opt = _two_groups(optim)
    ours = _lrs(ours_opt, getattr(lr_scheduler, name)(ours_opt, **kwargs), 20)
    torch_opt = _two_groups(torch)
    theirs = _lrs(torch_opt, getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs), 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_warmup_then_cosine_matches_torch(torch):
    def build(module, sched):
        opt = _two_groups(module)
        warmup = sched.LinearLR(opt, start_factor=0.1, total_iters=3)
        cosine = sched.CosineAnnealingLR(opt, T_max=12, eta_min=1e-3)
        return opt, sched.SequentialLR(opt, [warmup, cosine], milestones=[3])

    ours = _lrs(*build(optim, lr_scheduler), 15)
    theirs = _lrs(*build(torch, torch.optim.lr_scheduler), 15)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0, 0] == pytest.approx(0.01) and ours[3, 0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 2},
        {"patience": 1, "factor": 0.5, "cooldown": 2, "min_lr": 0.01},
        {"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.05},
    ],
)
def test_reduce_on_plateau_matches_torch(torch, kwargs):
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.7] + [0.8] * 3 + [0.49] + [0.5] * 5
    ours_opt = _two_groups(optim)
    ours = _lrs(ours_opt, lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs), len(metrics), metrics)
    torch_opt = _two_groups(torch)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    theirs = _lrs(torch_opt, sched, len(metrics), metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[-1, 0] < ours[0, 0]  # it did reduce


def test_step_lr_by_hand():
    opt = _two_groups(optim)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    lrs = _lrs(opt, sched, 5)[:, 0]
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.001])
    assert sched.get_last_lr() == pytest.approx([1e-3, 3e-3])  # epoch 5: two drops


def test_scheduler_state_roundtrip(tmp_path):
    opt = _two_groups(optim)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    for _ in range(3):
        sched.step()
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for value in [1.0, 2.0, 3.0]:
        plateau.step(value)
    save({"s": sched.state_dict(), "p": plateau.state_dict()}, tmp_path / "s.npz")
    loaded = load(tmp_path / "s.npz")

    opt2 = _two_groups(optim)
    sched2 = lr_scheduler.MultiStepLR(opt2, milestones=[2, 4], gamma=0.5)
    sched2.load_state_dict(loaded["s"])
    plateau2 = lr_scheduler.ReduceLROnPlateau(opt2, patience=1)
    plateau2.load_state_dict(loaded["p"])
    assert sched2.last_epoch == 3 and sched2.milestones == [2, 4]
    assert plateau2.best == 1.0 and plateau2.num_bad_epochs == plateau.num_bad_epochs
    sched.step()
    sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr()
