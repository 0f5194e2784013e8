"""``scratchnet.backends``: PyTorch's ``torch.backends`` switches, for code that sets them.

``mps`` (Apple's Metal GPU) answers "not available", so device-picking code chooses the CPU.
``cudnn``: scratchnet does not use cuDNN (its GPU convolutions are CuPy matrix
products), so its switches are plain attributes that code may set and read and that change nothing.
"""

from scratchnet.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
