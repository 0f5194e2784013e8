"""``scratchnet.utils.data``: PyTorch's path to the
datasets and the DataLoader (``torch.utils.data``).

Every name here IS the object in ``scratchnet.data`` (imported, not copied), so
``from torch.utils.data import DataLoader, TensorDataset`` runs on scratchnet with only the import
changed, and an ``isinstance`` check works whichever path the class was imported from.
"""

from scratchnet.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    ImageDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)
from scratchnet.data import collate as default_collate

__all__ = [
    "BatchSampler",
    "DataLoader",
    "Dataset",
    "ImageDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "random_split",
]
