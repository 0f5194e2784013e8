"""``scratchnet.backends.mps``: Apple's Metal GPU
backend of PyTorch, which scratchnet does not have.

``torch.backends.mps.is_available()`` is how pytorch/examples and many tutorials pick a device
(``cuda`` if available, else ``mps``, else ``cpu``). scratchnet runs on the CPU (NumPy) and on
NVIDIA GPUs (CuPy), never on Metal, so both questions answer False and such code picks the CPU.
"""


def is_available() -> bool:
    """False: scratchnet has no Metal (Apple GPU) backend."""
    return False


def is_built() -> bool:
    """False: scratchnet was not built with Metal support."""
    return False


__all__ = ["is_available", "is_built"]
