"""``scratchnet.hub``: PyTorch Hub is not available
in scratchnet; each entry point says what to use.

``torch.hub.load("pytorch/vision", "resnet18", pretrained=True)`` downloads code and weights from
GitHub. scratchnet downloads nothing: build the model from ``scratchnet.models`` and load
torchvision's weights from a file with ``scratchnet.io.load_torch_weights``
(see ``docs/from-pytorch.md``).
"""

from __future__ import annotations

from typing import Any

_INSTEAD = (
    "build the model from scratchnet.models (e.g. scratchnet.models.resnet18()) and load a "
    "downloaded torchvision checkpoint with model.load_state_dict(scratchnet.load(path))"
)


def _not_available(feature: str) -> NotImplementedError:
    return NotImplementedError(
        f"{feature} is not available in scratchnet (it "
        f"downloads code from the internet); {_INSTEAD}"
    )


def load(*args: Any, **kwargs: Any) -> Any:
    raise _not_available("torch.hub.load")


def list(*args: Any, **kwargs: Any) -> Any:
    raise _not_available("torch.hub.list")


def help(*args: Any, **kwargs: Any) -> Any:
    raise _not_available("torch.hub.help")


def load_state_dict_from_url(*args: Any, **kwargs: Any) -> Any:
    raise _not_available("torch.hub.load_state_dict_from_url")


def download_url_to_file(*args: Any, **kwargs: Any) -> Any:
    raise _not_available("torch.hub.download_url_to_file")
