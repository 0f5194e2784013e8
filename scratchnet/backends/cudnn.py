"""``scratchnet.backends.cudnn``: cuDNN's switches, as attributes that have no effect here.

Training scripts write ``torch.backends.cudnn.benchmark = True`` (let cuDNN time its algorithms
and keep the fastest) or ``deterministic = True`` (only reproducible algorithms). scratchnet never
calls cuDNN: on the CPU every op is NumPy, on the GPU CuPy matrix products whose results do not
depend on these switches. So both are accepted, kept, and change nothing; results are the same
either way, which is what ``deterministic = True`` asks for.
"""

benchmark = False  # no effect: scratchnet has no algorithm choice to time
deterministic = False  # no effect: scratchnet's ops give the same result on every run anyway
enabled = True  # no effect: cuDNN is never used
allow_tf32 = False  # no effect: float32 matrix products stay float32


def is_available() -> bool:
    """False: scratchnet does not use cuDNN (its switches above are accepted and change nothing)."""
    return False


def version() -> None:
    """None, as ``torch.backends.cudnn.version()`` answers without cuDNN."""
    return None
