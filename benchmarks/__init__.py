"""Benchmarks: scratchnet against the matrix-product floor and PyTorch, interleaved, as medians and ratios.

Run one with ``python -m benchmarks.conv`` (add ``--quick`` for a short run).
"""
