"""``scratchnet.utils``: where PyTorch keeps its data utilities (``torch.utils.data``).

``scratchnet.utils.data`` is ``scratchnet.data`` under PyTorch's module path: the same objects
(``scratchnet.utils.data.DataLoader is scratchnet.data.DataLoader``), not copies.
"""

from scratchnet.utils import data

__all__ = ["data"]
