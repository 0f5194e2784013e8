"""Benchmarks: scratchnet against PyTorch, the matrix-product floor and DeZero: medians, ratios.

``python -m benchmarks`` runs the whole suite (``run.py``; ``--quick`` for a short run); the
torch twins of the networks are in ``models.py``; ``python -m benchmarks.conv`` is the detailed
conv2d / pooling / batch-norm comparison on the lecture's layer list.
"""
