"""Optimizers: update rules against hand-written steps and PyTorch's trajectories, groups, state."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from scratchnet.io.npz import load, save

# (scratchnet class name, keyword arguments) -- the same names and values go to torch.optim.
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.5}),
]


def _problem(dtype):
    """A small fixed regression problem: y = tanh(x W1 + b1) W2, squared error."""
    rng = np.random.default_rng(42)
    x = rng.standard_normal((16, 5)).astype(dtype)
    y = rng.standard_normal((16, 3)).astype(dtype)
    weights = [rng.standard_normal(shape).astype(dtype) * 0.5 for shape in [(5, 8), (8,), (8, 3)]]
    return x, y, weights


def _scratchnet_trajectory(name, kwargs, dtype, steps):
    x, y, weights = _problem(dtype)
    params = [sn.tensor(w, requires_grad=True) for w in weights]
    opt = getattr(optim, name)(params, **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        w1, b1, w2 = params
        loss = (((sn.tensor(x) @ w1 + b1).tanh() @ w2 - sn.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def _torch_trajectory(torch, name, kwargs, dtype, steps):
    x, y, weights = _problem(dtype)
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = getattr(torch.optim, name)(params, **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        w1, b1, w2 = params
        loss = (((torch.tensor(x) @ w1 + b1).tanh() @ w2 - torch.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


@pytest.mark.parametrize(
    ("name", "kwargs"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]
)
def test_trajectory_matches_torch_float64(torch, name, kwargs):
    ours = _scratchnet_trajectory(name, kwargs, np.float64, steps=30)
    theirs = _torch_trajectory(torch, name, kwargs, np.float64, steps=30)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for p, q in zip(a, b, strict=True):
            np.testing.assert_allclose(
                p, q, rtol=1e-10, atol=1e-12, err_msg=f"{name} {kwargs} step {step}"
            )


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS[1::3], ids=lambda v: str(v))
def test_trajectory_matches_torch_float32(torch, name, kwargs):
    ours = _scratchnet_trajectory(name, kwargs, np.float32, steps=20)
    theirs = _torch_trajectory(torch, name, kwargs, np.float32, steps=20)
    for p, q in zip(ours[-1], theirs[-1], strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)


def test_sgd_momentum_by_hand():
    """Two steps of SGD with momentum on f(p) = p^2 / 2 (grad = p), written out."""
    p = sn.tensor([1.0], dtype=np.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (p * p / 2).sum().backward()
        opt.step()
    # step 1: b = 1, p = 1 - 0.1 = 0.9; step 2: b = 0.9 * 1 + 0.9 = 1.8, p = 0.9 - 0.18 = 0.72
    np.testing.assert_allclose(p.numpy(), [0.72])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.8])


def test_add_scaled_updates_in_place_slice_by_slice():
    """p += alpha * g in slices: the same result as in one go, on the same array, for any size."""
    from scratchnet.optim.optimizer import UPDATE_SLICE, add_scaled_

    rng = np.random.default_rng(0)
    for shape in [(3,), (UPDATE_SLICE + 5,), (7, UPDATE_SLICE // 3)]:
        p, g = (
            rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape).astype(np.float32),
        )
        expected = p - np.float32(0.1) * g
        target = p
        add_scaled_(p, -0.1, g)
        assert p is target and p.dtype == np.float32
        np.testing.assert_allclose(p, expected, rtol=1e-6, atol=1e-7)
    strided = np.zeros((4, 6), np.float32)[:, ::2]  # not contiguous: updated all the same
    add_scaled_(strided, 2.0, np.ones((4, 3), np.float32))
    assert (strided == 2.0).all()


def test_adam_first_step_is_lr_times_sign():
    """With bias correction, Adam's first step is lr * g / (|g| + eps): about lr * sign(g)."""
    p = sn.tensor([1.0, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    optim_ = optim.Adam([p], lr=0.1)
    (p * sn.tensor([2.0, -5.0, 0.1], dtype=np.float64)).sum().backward()
    optim_.step()
    np.testing.assert_allclose(p.numpy(), [0.9, -1.9, 2.9], rtol=1e-6)


def test_param_groups_use_their_own_hyperparameters():
    a = sn.tensor([1.0], dtype=np.float64, requires_grad=True)
    b = sn.tensor([1.0], dtype=np.float64, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.0  # filled from the defaults
    (a + b).sum().backward()
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])


def test_param_group_errors():
    p = sn.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a = sn.tensor([1.0], requires_grad=True)
    b = sn.tensor([1.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert b.item() == 1.0 and b not in opt.state
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and a.grad.numpy().tolist() == [0.0]
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.parametrize(
    ("name", "kwargs"), [CONFIGS[2], CONFIGS[7], CONFIGS[12]], ids=["SGD", "Adam", "RMSprop"]
)
def test_state_dict_roundtrip_continues_identically(tmp_path, name, kwargs):
    """10 steps straight == 5 steps, save to .npz, load into a fresh optimizer, 5 more steps."""
    straight = _scratchnet_trajectory(name, kwargs, np.float64, steps=10)[-1]

    x, y, weights = _problem(np.float64)
    params = [sn.tensor(w, requires_grad=True) for w in weights]

    def run(opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            w1, b1, w2 = params
            (((sn.tensor(x) @ w1 + b1).tanh() @ w2 - sn.tensor(y)) ** 2).mean().backward()
            opt.step()

    first = getattr(optim, name)(params, **kwargs)
    run(first, 5)
    save({"optimizer": first.state_dict()}, tmp_path / "opt.npz")
    second = getattr(optim, name)(params, lr=123.0)  # wrong lr: the loaded state must override it
    second.load_state_dict(load(tmp_path / "opt.npz")["optimizer"])
    assert second.param_groups[0]["lr"] == kwargs["lr"]
    run(second, 5)
    for p, q in zip(params, straight, strict=True):
        np.testing.assert_array_equal(p.numpy(), q)


def test_state_dict_layout_matches_torch(torch):
    p = sn.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * 2).sum().backward()
    opt.step()
    state = opt.state_dict()
    tp = torch.ones(3, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    (tp * 2).sum().backward()
    topt.step()
    tstate = topt.state_dict()
    assert set(state) == set(tstate)
    assert set(state["state"][0]) == set(tstate["state"][0])
    assert set(state["param_groups"][0]) <= set(tstate["param_groups"][0])
    np.testing.assert_allclose(
        state["state"][0]["momentum_buffer"], tstate["state"][0]["momentum_buffer"].numpy()
    )


def test_load_state_dict_rejects_a_different_structure():
    p, q = sn.tensor([1.0], requires_grad=True), sn.tensor([1.0], requires_grad=True)
    state = optim.SGD([p, q], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 parameters"):
        optim.SGD([p], lr=0.1).load_state_dict(state)
