"""``scratchnet.distributed``: multi-process, multi-GPU training is not available in scratchnet.

``is_available()`` answers False (as ``torch.distributed.is_available()`` does on a build without
it), so code that checks first takes its single-process path; everything else raises a
NotImplementedError that says what to use instead.
"""

from __future__ import annotations

from typing import Any

_INSTEAD = (
    "scratchnet trains in one process on one device: "
    "run the script without torchrun/init_process_group"
)


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def _not_available(feature: str) -> NotImplementedError:
    return NotImplementedError(
        f"{feature} (distributed training) is not available in scratchnet; {_INSTEAD}"
    )


def init_process_group(*args: Any, **kwargs: Any) -> None:
    raise _not_available("torch.distributed.init_process_group")


def get_rank(*args: Any, **kwargs: Any) -> int:
    raise _not_available("torch.distributed.get_rank")


def get_world_size(*args: Any, **kwargs: Any) -> int:
    raise _not_available("torch.distributed.get_world_size")


def all_reduce(*args: Any, **kwargs: Any) -> None:
    raise _not_available("torch.distributed.all_reduce")


def barrier(*args: Any, **kwargs: Any) -> None:
    raise _not_available("torch.distributed.barrier")
