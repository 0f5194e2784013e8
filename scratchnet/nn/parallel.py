"""``nn.DataParallel``: PyTorch's multi-GPU wrapper, a pass-through here (one device).

``DataParallel(model)`` in PyTorch splits each batch over the visible GPUs and gathers the outputs;
on one device it simply calls the model. scratchnet runs on one device, so the wrapper calls
``module`` and nothing else: the outputs are exactly the model's. It keeps PyTorch's visible
traits: the model is ``.module``, and the ``state_dict`` keys start with ``module.`` (a checkpoint
saved from a wrapped model needs the wrapper, or the prefix removed, to load into a bare one, as in
PyTorch). ``DistributedDataParallel`` (several processes) is not available.
"""

from __future__ import annotations

from typing import Any

from scratchnet.nn.module import Module


class DataParallel(Module):
    """Wraps ``module`` and calls it: one device, so no scattering (``nn.DataParallel``)."""

    def __init__(
        self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0
    ) -> None:
        super().__init__()
        self.module = module  # a child: its parameters and state_dict keys get the "module." prefix
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    """Not available: scratchnet trains in one process (see ``scratchnet.distributed``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "nn.parallel.DistributedDataParallel (multi-process training) is not available in "
            "scratchnet; train the model itself in one process (nn.DataParallel(model) is "
            "accepted as a pass-through)"
        )
