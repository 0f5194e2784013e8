"""``scratchnet.backends``: PyTorch's ``torch.backends`` switches, for code that sets them.

Only ``cudnn`` is here: scratchnet does not use cuDNN (its GPU convolutions are CuPy matrix
products), so its switches are plain attributes that code may set and read and that change nothing.
"""

from scratchnet.backends import cudnn

__all__ = ["cudnn"]
