"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict.

An optimizer holds references to the model's parameters and, after ``loss.backward()`` has filled
each ``p.grad``, moves every parameter a little against its gradient (``step()``). How far and in
which direction is the update rule, which each subclass writes in ``update(p, grad, state, group)``
on plain arrays: the whole of SGD, Adam or RMSprop fits on one screen.

Parameter groups (PyTorch's ``param_groups``) let parts of a model use different hyper-parameters,
e.g. a smaller learning rate for a pre-trained backbone::

    SGD([{"params": backbone.parameters(), "lr": 1e-3},
         {"params": head.parameters()}], lr=1e-2, momentum=0.9)

Each group is a dict with a ``"params"`` list and every hyper-parameter; a learning-rate scheduler
works by rewriting ``group["lr"]``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from scratchnet.backend import Array, get_xp, to_device
from scratchnet.engine import no_grad
from scratchnet.tensor import Tensor


class Optimizer:
    """Base class of every optimizer (PyTorch's ``torch.optim.Optimizer``).

    Parameters
    ----------
    params : iterable of Tensor, or of dict
        The tensors to optimise (e.g. ``model.parameters()``), or parameter groups: dicts with a
        ``"params"`` entry and optional hyper-parameters that override ``defaults``.
    defaults : dict
        The hyper-parameters of the subclass (``lr``, ``momentum``, ...) and their default values.
    """

    def __init__(
        self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]
    ) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        # Per-parameter state (momentum buffers, Adam's moments ...), keyed by the tensor itself:
        # a Tensor hashes by identity, so two parameters never share an entry.
        self.state: dict[Tensor, dict[str, Any]] = {}
        _check_params_argument(type(self).__name__, params)
        params = list(params)
        if len(params) == 0:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own
        hyper-parameters (missing ones from ``defaults``).
        """
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__} can only optimise Tensors, got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    "can't optimise a non-leaf Tensor (one computed by an op); use a parameter"
                )
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward (they would otherwise add up)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    with no_grad():  # in place, as PyTorch: whoever holds p.grad sees the zeros
                        p.grad.zero_()

    def step(self) -> None:
        """Update every parameter that has a gradient, one group after the other."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.array
                if group.get("maximize", False):
                    grad = -grad  # gradient ascent: follow +grad instead of -grad
                self.update(p, grad, self.state.setdefault(p, {}), group)
                p._bump_version()  # p changed in place: a graph that saved p can no longer use it

    def update(self, p: Tensor, grad: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply the update rule to one parameter,
        in place on ``p.array`` (subclasses write this).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, with copies of the arrays.

        ``{"state": {index: {"step": ..., "momentum_buffer": array, ...}},
        "param_groups": [{"lr": ..., ..., "params": [indices]}]}``: parameters are numbered in
        the order of the groups, so the state can be loaded into a new optimizer over a new model
        with the same structure.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            indices = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                indices.append(index_of[id(p)])
            groups.append(
                {
                    **{k: copy.deepcopy(v) for k, v in group.items() if k != "params"},
                    "params": indices,
                }
            )
        state = {
            index_of[id(p)]: {k: _copy_value(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (arrays are copied).

        Everything is checked before anything changes, and two things PyTorch lets through are
        refused, because both give wrong results later: a state saved by another kind of
        optimizer (``SGD.load_state_dict(adam.state_dict())`` would take Adam's lr and carry its
        moments), recognised by hyper-parameters this optimizer has and the saved groups lack;
        and state arrays whose shapes differ from the parameters' (a model with other layer sizes,
        which PyTorch reports only at the next ``step()``, as a broadcast error).
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise TypeError(
                f"{name}.load_state_dict expects what optimizer.state_dict() returns (a dict with "
                f"'state' and 'param_groups'), got {type(state_dict).__name__} {state_dict!r:.60}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"parameter group {i}: loaded state has {len(saved['params'])} parameters, "
                    f"this optimizer has {len(group['params'])}"
                )
            missing = [key for key in self.defaults if key not in saved]
            if missing:
                found = ", ".join(sorted(key for key in saved if key != "params"))
                raise ValueError(
                    f"{name}.load_state_dict: the state was saved by another kind of optimizer: "
                    f"parameter group {i} has no {', '.join(missing)} (it has {found}); load a "
                    f"state saved by {name}, or build a fresh {name}"
                )
        # A state saved to .npz and loaded back has string keys ("0", "1", ...): accept both.
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            for position, (p, index) in enumerate(
                zip(group["params"], saved["params"], strict=True)
            ):
                for key, value in saved_state.get(int(index), {}).items():
                    shape = tuple(getattr(value, "shape", ()))
                    if shape and shape != p.shape:
                        # a 0-d entry (the step count) has no shape to compare
                        raise ValueError(
                            f"{name}.load_state_dict: state '{key}' of parameter {position} in "
                            f"group {i} has shape {shape}, but that parameter has shape {p.shape}; "
                            "the state was saved for a model with other layer sizes"
                        )
        self.state = {}
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            for name, value in saved.items():
                if name != "params":
                    group[name] = tuple(value) if isinstance(group.get(name), tuple) else value
            for p, index in zip(group["params"], saved["params"], strict=True):
                if int(index) in saved_state:
                    self.state[p] = {
                        k: _restore_value(k, v, p) for k, v in saved_state[int(index)].items()
                    }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])


def _check_params_argument(name: str, params: Any) -> None:
    """Name the usual mistakes in an optimizer's first
    argument before ``list(params)`` hides them.
    """
    if isinstance(params, Tensor):
        raise TypeError(
            f"{name} expects an iterable of Tensors, got a single Tensor of shape {params.shape}; "
            f"wrap it in a list: {name}([w], lr=...)"
        )
    if callable(getattr(params, "parameters", None)):  # a Module, handed over itself
        raise TypeError(
            f"{name} expects the parameters of a model, got the {type(params).__name__} model "
            f"itself; pass {name}(model.parameters(), lr=...)"
        )
    if callable(params) and not isinstance(params, Iterable):  # model.parameters, not called
        raise TypeError(
            f"{name} expects an iterable of Tensors, got the method "
            f"{getattr(params, '__name__', '?')} itself; "
            f"call it: {name}(model.parameters(), lr=...)"
        )
    if not isinstance(params, Iterable):
        raise TypeError(
            f"{name} expects an iterable of Tensors or of parameter-group dicts, got "
            f"{type(params).__name__}"
        )


def _copy_value(value: Any) -> Any:
    """A copy of one state entry: arrays on the CPU, numbers as they are."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return to_device(value, "cpu").copy()
    return value


def _restore_value(name: str, value: Any, p: Tensor) -> Any:
    """A state entry loaded back: the step count as an int, buffers on the parameter's device."""
    if name == "step":
        return int(value)
    if hasattr(value, "shape"):
        return to_device(get_xp(value).asarray(value, dtype=p.dtype), p.device).copy()
    return value


# Slices of this many elements keep the temporary of ``add_scaled_`` small (1 MiB in float32).
UPDATE_SLICE = 2**18


def add_scaled_(target: Array, alpha: float, x: Array) -> None:
    """``target += alpha * x`` in place, as PyTorch's ``target.add_(x, alpha=alpha)``.

    NumPy has no fused "add a multiple" into an existing array: ``target += alpha * x`` first
    builds ``alpha * x``, a temporary as large as the parameter (392 MiB for VGG16's first fully
    connected layer). Done a slice at a time, the temporary stays small and in cache.
    """
    if not target.flags.c_contiguous:  # reshape(-1) below must be a view of target
        target += alpha * x
        return
    flat_target, flat_x = target.reshape(-1), x.reshape(-1)
    for start in range(0, flat_target.size, UPDATE_SLICE):
        flat_target[start : start + UPDATE_SLICE] += alpha * flat_x[start : start + UPDATE_SLICE]
