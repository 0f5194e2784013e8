"""Run a PyTorch program with scratchnet in place of torch: ``python run_with_scratchnet.py program.py [args]``.

The compatibility corpus's second run. Before the program starts, an import hook answers every
``import torch...`` with scratchnet's module of the same path (``torch.nn.functional`` is
``scratchnet.nn.functional``, ``torch.utils.data`` is ``scratchnet.utils.data``), and
``torchvision.models`` with ``scratchnet.models``. That is ``import scratchnet as torch``, applied
to every import line of the program without editing it. A torch path scratchnet does not have
fails as an ImportError naming it, and the real torch is never loaded: the run ends by checking
that no module named ``torch...`` came from anywhere else.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import types
from typing import Any

# torch's module paths and where scratchnet keeps the same things (longest prefix first).
PREFIXES = [
    ("torchvision.models", "scratchnet.models"),
    ("torchvision.transforms", "scratchnet.data.transforms"),
    ("torch", "scratchnet"),
]


class _Existing(importlib.abc.Loader):
    """A loader that hands out an already imported module (the scratchnet one)."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module

    def create_module(self, spec: Any) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # already executed when scratchnet imported it


class ScratchnetAsTorch(importlib.abc.MetaPathFinder):
    """Answers ``import torch.x.y`` with ``scratchnet.x.y`` (and ``torchvision.models`` likewise)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == "torchvision":  # a package holding the two parts scratchnet has
            module = types.ModuleType(
                "torchvision", "scratchnet's stand-in for torchvision (models, transforms)"
            )
            module.__path__ = []
            return importlib.util.spec_from_loader(fullname, _Existing(module), is_package=True)
        for prefix, replacement in PREFIXES:
            if fullname == prefix or fullname.startswith(prefix + "."):
                target_name = replacement + fullname[len(prefix) :]
                try:
                    module = importlib.import_module(target_name)
                except ModuleNotFoundError:
                    raise ModuleNotFoundError(
                        f"the program imports {fullname}, which scratchnet does not have ({target_name})",
                        name=fullname,
                    ) from None
                return importlib.util.spec_from_loader(
                    fullname, _Existing(module), is_package=hasattr(module, "__path__")
                )
        return None


def main() -> None:
    program, *arguments = sys.argv[1:]
    sys.meta_path.insert(0, ScratchnetAsTorch())
    sys.argv = [program, *arguments]
    # As `python program.py` does: the program's folder comes first on the path (its own modules).
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    try:
        runpy.run_path(program, run_name="__main__")
    finally:
        check_no_real_torch()


def check_no_real_torch() -> None:
    """Exit with an error if any module imported as ``torch...`` is not scratchnet's."""
    real = [
        name
        for name, m in sys.modules.items()
        if name.split(".")[0] in ("torch", "torchvision")
        and m is not None
        and not m.__name__.startswith(("scratchnet", "torchvision"))
    ]
    if real:
        raise SystemExit(f"the real torch was loaded during the scratchnet run: {real[:5]}")


if __name__ == "__main__":
    main()
