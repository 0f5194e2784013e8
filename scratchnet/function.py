"""``scratchnet.function``: the op base class ``Function`` and the switches, by their old path.

Everything here is defined in the graph engine, ``scratchnet/engine.py``, where the
recording of ops and the backward walk are read together; this module only keeps the short
import path (``from scratchnet.function import Function``) that the ops and labs use.
"""

from scratchnet.engine import (
    Function,
    GradientShapeError,
    anomaly_mode_enabled,
    check_finite,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    not_a_tensor,
)

__all__ = [
    "Function",
    "GradientShapeError",
    "anomaly_mode_enabled",
    "check_finite",
    "detect_anomaly",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "not_a_tensor",
]
