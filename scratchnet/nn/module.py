"""Module and Parameter: the building blocks every network is made of (PyTorch's ``nn.Module``).

A Module holds three kinds of state, each in an insertion-ordered dict, so that iterating a model
always gives its layers in the order they were defined:

* ``_parameters``: the learnable tensors (``Parameter``), e.g. a convolution's weight and bias;
* ``_buffers``: tensors that are state but not learned, e.g. BatchNorm's running mean;
* ``_modules``: the sub-modules (children), each a Module itself, forming a tree.

Assigning an attribute files it automatically: ``self.conv = Conv2d(...)`` adds a child and
``self.weight = Parameter(...)`` a parameter (``__setattr__``); reading ``self.conv`` finds it again
(``__getattr__``). Everything else walks that tree: ``parameters()`` for the optimizer,
``state_dict()`` for checkpoints (keys such as ``features.0.weight``, as in PyTorch), ``train()``
and ``eval()`` for the layers that behave differently in training (BatchNorm, Dropout).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from scratchnet.backend import is_cuda_array, to_device
from scratchnet.engine import no_grad
from scratchnet.tensor import Tensor, parse_to


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module: it requires grad, and assigning it to a
    module attribute registers it, so ``module.parameters()`` finds it.

    ``Parameter(tensor)`` shares the tensor's array (no copy), as ``torch.nn.Parameter`` does.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(
            data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad
        )

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Callable[..., Any]]) -> None:
        self.hooks, self.id = hooks, next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and network. Subclasses call ``super().__init__()`` first, assign
    their parameters and sub-modules as attributes, and define ``forward``.

    >>> from scratchnet import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = nn.Linear(4, 8)
    ...         self.fc2 = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        # buffer names left out of state_dict
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "_forward_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the pre-hooks, ``forward``, then the hooks
        (a hook returning a value replaces the output).
        """
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = (
            self.__dict__.get(k) for k in ("_parameters", "_buffers", "_modules")
        )
        if isinstance(value, Parameter | Module) and params is None:
            raise AttributeError(
                f"cannot assign {type(value).__name__} '{name}' before Module.__init__() call"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' "
                    "(scratchnet.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child "
                    f"module '{name}' (Module or None expected)"
                )
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as "
                    f"buffer '{name}' (Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails, i.e. for parameters, buffers and children.
        state = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            if kind in state and name in state[kind]:
                return state[kind][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for kind in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[kind]:
                del self.__dict__[kind][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._parameters, *self._buffers, *self._modules})

    def _forget(self, name: str) -> None:
        """Remove ``name`` from every registry and the
        plain attributes, before it is re-registered.
        """
        for kind in ("_parameters", "_buffers", "_modules"):
            self.__dict__[kind].pop(name, None)
        self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def _check_name(self, what: str, name: str, registry: dict[str, Any]) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{what} name can\'t be empty or contain ".", got {name!r}')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a placeholder such as a disabled bias) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter '{name}' "
                "(scratchnet.nn.Parameter or None expected)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is saved and moved with the module but not learned.

        ``persistent=False`` keeps it out of ``state_dict()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} as "
                f"buffer '{name}' (Tensor or None expected)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            where = f"{type(self).__name__}: module '{name}'"
            if isinstance(module, type) and issubclass(module, Module):
                # nn.ReLU where nn.ReLU() was meant
                prefix = "nn." if module.__module__.startswith("scratchnet.nn") else ""
                raise TypeError(
                    f"{where} is the class {module.__name__}, not a layer; "
                    f"create one by calling it: {prefix}{module.__name__}()"
                )
            raise TypeError(
                f"{where}: {type(module).__name__} is not a "
                "Module subclass (a layer such as nn.ReLU())"
            )
        self._check_name("module", name, self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ walking the tree

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Yield this module and all below it, depth first,
        with their dotted names ('' for self).
        """
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, in the order they were assigned."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Tensor]]:
        # a tensor shared by two layers is reported once (by id: == is element-wise)
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for name, tensor in module.__dict__[registry].items():
                if tensor is None or (remove_duplicate and id(tensor) in seen):
                    continue
                seen.add(id(tensor))
                yield _join(module_prefix, name), tensor

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``("features.0.weight", Parameter)`` pairs, in definition order."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every learnable tensor, for the optimizer: ``SGD(model.parameters(), lr=0.1)``."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path, e.g. ``model.get_submodule("layer1.0.conv1")``."""
        module = self
        for name in target.split(".") if target else []:
            child = module._modules.get(name)
            if child is None:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule '{name}' (looking for '{target}')"
                )
            module = child
        return module

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on self; returns self.

        Typical use: custom initialisation, ``model.apply(init_weights)``.
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes, gradients, devices

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation
        mode on self and every sub-module; returns self.

        BatchNorm then uses batch statistics (training) or its running ones (eval); Dropout drops
        units only in training.
        """
        if not isinstance(mode, bool):
            raise ValueError(
                f"train(mode): mode is expected to be a bool, got {type(mode).__name__}"
            )
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradients on or off for every parameter (freezing layers for fine-tuning)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter
        (``.grad = None``, PyTorch's default), or zero them.
        """
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                with no_grad():  # in place, as PyTorch: whoever holds param.grad sees the zeros
                    param.grad.zero_()

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move to ``"cpu"``/``"cuda"``/a ``device``,
        or cast floating tensors to a dtype, IN PLACE; returns self.

        Takes PyTorch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``,
        keywords ``device=``, ``dtype=``, ``non_blocking=`` (no effect: copies are synchronous).
        Unlike ``Tensor.to``, parameters stay the same objects (only their ``.array`` and ``.grad``
        change), so an optimizer built before ``model.to("cuda")`` still updates them.
        """
        target_device, dtype = parse_to("Module.to", args, kwargs)
        for tensor in self._all_tensors():
            if target_device is not None:
                tensor.array = to_device(tensor.array, str(target_device))
                if tensor.grad is not None:
                    tensor.grad.array = to_device(tensor.grad.array, str(target_device))
            if dtype is not None and tensor.dtype.kind == "f":  # integer buffers keep their dtype
                tensor.array = tensor.array.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad.array = tensor.grad.array.astype(dtype)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def _all_tensors(self) -> Iterator[Tensor]:
        seen: set[int] = set()
        for module in self.modules():
            for tensor in itertools.chain(module._parameters.values(), module._buffers.values()):
                if tensor is not None and id(tensor) not in seen:
                    seen.add(id(tensor))
                    yield tensor

    # ------------------------------------------------------------------ state_dict

    def state_dict(
        self,
        *,
        destination: dict[str, Any] | None = None,
        prefix: str = "",
        keep_vars: bool = False,
    ) -> dict[str, Any]:
        """Every parameter and persistent buffer by its
        dotted name, as detached Tensors (PyTorch's rule).

        The keys are PyTorch's (``features.0.weight``, ``bn1.running_mean``,
        ``bn1.num_batches_tracked``). Each value is ``param.detach()``, as in PyTorch: a new Tensor,
        not requiring a gradient, that SHARES its array (and version counter) with the parameter:
        the dict follows the model as it trains and is cheap to build. To keep a snapshot (the best
        epoch's weights), copy it: ``copy.deepcopy(model.state_dict())`` or
        ``{k: v.clone() for k, v in ...}``.
        ``keep_vars=True`` gives the parameters themselves.
        """
        destination = {} if destination is None else destination
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy Tensors or arrays (NumPy, CuPy, torch CPU tensors)
        into the parameters and buffers, in place.

        Everything is checked before anything is copied: missing keys, unexpected keys (both only
        with ``strict=True``) and shape mismatches (always) are reported together in one error, and
        the module is left unchanged. Values are cast to each tensor's dtype and device.
        """
        if not isinstance(state_dict, Mapping):
            hint = ""
            if isinstance(state_dict, str | os.PathLike):  # a path: the file must be read first
                load_call = f"scratchnet.load({str(state_dict)!r})"
                hint = f"; to load a file, read it first: model.load_state_dict({load_call})"
            raise TypeError(
                f"{type(self).__name__}.load_state_dict expects a mapping of names to arrays (such "
                f"as model.state_dict()), got {type(state_dict).__name__} {state_dict!r:.60}{hint}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems, arrays = [], {}
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                array = value.array
            else:  # a NumPy or CuPy array, a number, or what NumPy converts (a torch CPU tensor)
                array = value if is_cuda_array(value) else np.asarray(value)
            # a lazy layer's: it takes the checkpoint's shape
            uninitialized = hasattr(tensor, "materialize")
            if tuple(array.shape) != tensor.shape and not uninitialized:
                problems.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} "
                    f"from checkpoint, the shape in current model is {tensor.shape}."
                )
            elif array.dtype.kind not in "biuf":
                problems.append(
                    f"dtype mismatch for {key}: got {array.dtype}, "
                    f"expected numbers ({tensor.dtype})"
                )
            else:
                arrays[key] = array
        if strict:
            if unexpected:
                problems.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ".",
                )
            if missing:
                problems.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
                )
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(problems)
            )
        # Cast first, copy second: a cast can raise (NaN into an int buffer under
        # np.seterr(all="raise")), and then no parameter may have been changed yet.
        cast = {
            key: to_device(a, own[key].device).astype(own[key].dtype, copy=False)
            for key, a in arrays.items()
        }
        for key, array in cast.items():
            if hasattr(own[key], "materialize"):
                # PyTorch's lazy-layer rule: shaped by what is loaded
                own[key].materialize(array.shape)
            own[key].array[...] = array  # in place: the parameter objects stay the same
            # PyTorch's copy_: a graph that saved the old values can no longer use them
            own[key]._bump_version()
        for module in self.modules():
            if hasattr(module, "finish_lazy_load"):
                # a lazy layer now shaped: it becomes the eager one
                module.finish_lazy_load()
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ hooks

    def register_forward_pre_hook(
        self, hook: Callable[[Module, tuple[Any, ...]], Any]
    ) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``;
        if it returns a value, that becomes the args.
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(
        self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
    ) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``;
        if it returns a value, that becomes the output.

        Used to look at feature maps:
        ``model.layer1.register_forward_hook(lambda m, a, out: saved.append(out))``.
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ printing

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's line in ``repr``
        (e.g. ``3, 64, kernel_size=(3, 3)``).
        """
        return ""

    def __repr__(self) -> str:
        # PyTorch's layout: a one-liner for a leaf layer, else one indented line per child.
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): {_indent(repr(module), 2)}" for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first (a child's repr continues the parent's line)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])
