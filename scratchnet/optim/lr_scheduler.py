"""Learning-rate schedules: change ``group["lr"]`` as training goes on (PyTorch's ``lr_scheduler``).

A scheduler is stepped once per epoch (or per iteration, for a warm-up) after ``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        train_one_epoch(...)
        scheduler.step()

Each schedule below is a closed-form function of the epoch counter ``last_epoch`` and the group's
initial learning rate, written out in ``lr_at``; the learning rates follow PyTorch's (checked in
``tests/test_lr_scheduler.py``). ``ReduceLROnPlateau`` is the exception: it watches a validation
metric and divides the learning rate when the metric stops improving.

A linear warm-up followed by cosine decay, the usual recipe for training from scratch::

    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    cosine = CosineAnnealingLR(optimizer, T_max=85)
    scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[5])
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from scratchnet.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: holds the optimizer, the epoch counter and each group's initial learning rate."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            # Remember where each group started; every schedule is a function of it.
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()  # move to epoch 0 (last_epoch -1 -> 0) and set the learning rates

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The learning rate at ``epoch`` for a group that started at ``base_lr``."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rate of every group at the current epoch."""
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the optimizer."""
        self.last_epoch += 1
        self._apply(self.get_lr())

    def _apply(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (it is saved on its own)."""
        return {
            key: value
            for key, value in vars(self).items()
            if key not in ("optimizer", "_schedulers")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key, value in state_dict.items():
            current = getattr(self, key, None)
            setattr(
                self,
                key,
                type(current)(value) if isinstance(current, list | tuple) else _plain(value),
            )


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every
    ``step_size`` epochs (ResNet's /10 schedule).
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch in ``milestones`` (e.g. [32000, 48000]
    iterations in the CIFAR ResNet paper).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        # milestones passed
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial learning rate down to ``eta_min`` over ``T_max`` epochs
    (Loshchilov & Hutter 2017, without restarts).

    Notes
    -----
    ``lr(t) = eta_min + (lr_0 - eta_min) * (1 + cos(pi * t / T_max)) / 2``. Past ``T_max`` the
    cosine goes on and the learning rate rises again, as in PyTorch.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return (
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        )


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs, then keep it: with ``start_factor < 1`` this is a linear warm-up (Goyal et al. 2017).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not (0.0 < start_factor <= 1.0 and 0.0 <= end_factor <= 1.0):
            raise ValueError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        progress = min(self.total_iters, epoch) / self.total_iters  # 0 -> 1, then stays at 1
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``,
    then ``schedulers[1]`` from its epoch 0, ...
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones"
            )
        self._schedulers, self.milestones = list(schedulers), [int(m) for m in milestones]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        index = bisect.bisect_right(self.milestones, self.last_epoch)  # which scheduler is active
        start = self.milestones[index - 1] if index > 0 else 0
        active = self._schedulers[index]
        active.last_epoch = self.last_epoch - start  # its own clock starts at its milestone
        return active.get_lr()


class ReduceLROnPlateau:
    """Divide the learning rate by 1/``factor`` when a metric has not improved for ``patience``
    epochs (PyTorch's ``ReduceLROnPlateau``); call ``step(val_loss)`` after each validation.

    Parameters
    ----------
    mode : "min" or "max"
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float
        New lr = lr * factor.
    patience : int
        Epochs without improvement that are tolerated; the lr drops on the next one.
    threshold, threshold_mode : float, "rel" or "abs"
        What counts as an improvement: better than best * (1 -/+ threshold) ("rel") or than
        best -/+ threshold ("abs").
    cooldown : int
        Epochs to wait after a reduction before counting bad epochs again.
    min_lr : float or list of float
        Lower bound on each group's learning rate.
    eps : float
        Reductions smaller than this are skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau: factor should be < 1.0")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: unknown mode {mode!r} or threshold_mode {threshold_mode!r}"
            )
        self.optimizer = optimizer
        n_groups = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, Sequence) else [min_lr] * n_groups
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return value < (
                best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else best - self.threshold
            )
        return value > (
            best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        )

    def step(self, metrics: float) -> None:
        value = float(metrics)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # just reduced: ignore bad epochs for a while
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key, value in state_dict.items():
            setattr(self, key, list(value) if isinstance(value, list | tuple) else _plain(value))


def _plain(value: Any) -> Any:
    """A 0-d array or NumPy scalar (as loaded from .npz) back to a Python number."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else value
