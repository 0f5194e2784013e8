"""Visualisation: training curves, confusion matrices, filters, feature maps, Grad-CAM, and the
computation graph as Graphviz DOT. matplotlib is imported only when something is drawn.
"""

from scratchnet.viz.gradcam import grad_cam, plot_gradcam, pointing_game
from scratchnet.viz.graph import render, to_dot
from scratchnet.viz.result import RunResult
from scratchnet.viz.plots import (
    feature_maps,
    plot_confusion_matrix,
    plot_curves,
    plot_feature_maps,
    plot_filters,
    plot_history,
    plot_images,
)

__all__ = [
    "RunResult",
    "feature_maps",
    "grad_cam",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradcam",
    "plot_history",
    "plot_images",
    "pointing_game",
    "render",
    "to_dot",
]
