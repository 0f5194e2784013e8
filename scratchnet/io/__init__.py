"""Saving and loading: scratchnet's own ``.npz`` checkpoints and PyTorch weights."""
