"""Saving and loading: scratchnet's own ``.npz`` checkpoints and PyTorch weights."""

from scratchnet.io.npz import load, save
from scratchnet.io.torch_weights import load_torch_state_dict
