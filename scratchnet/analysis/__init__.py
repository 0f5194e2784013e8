"""Looking inside a model: ``summary`` (parameters, multiply-accumulates, activation memory per layer)
and ``receptive_field`` (receptive field, jump and start of every layer, following branches).
"""

from scratchnet.analysis.receptive_field import (
    EmpiricalField,
    Field,
    LayerField,
    ReceptiveFields,
    empirical_receptive_field,
    receptive_field,
    trace_fields,
)
from scratchnet.analysis.summary import LayerSummary, ModelSummary, summary

__all__ = [
    "EmpiricalField",
    "Field",
    "LayerField",
    "LayerSummary",
    "ModelSummary",
    "ReceptiveFields",
    "empirical_receptive_field",
    "receptive_field",
    "summary",
    "trace_fields",
]
