"""Looking inside a model: ``summary`` (parameters, multiply-accumulates, activation memory per
layer) and ``receptive_field`` (receptive field, jump and start of every layer, following branches).

Both record the module calls of one forward pass with ``record_calls`` (``recorder.py``) and print
with ``render_table`` (``text_table.py``), which the lessons use too.
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
from scratchnet.analysis.recorder import ModuleCall, record_calls
from scratchnet.analysis.summary import LayerSummary, ModelSummary, summary
from scratchnet.analysis.text_table import Column, render_table

__all__ = [
    "Column",
    "EmpiricalField",
    "Field",
    "LayerField",
    "LayerSummary",
    "ModelSummary",
    "ModuleCall",
    "ReceptiveFields",
    "empirical_receptive_field",
    "receptive_field",
    "record_calls",
    "render_table",
    "summary",
    "trace_fields",
]
