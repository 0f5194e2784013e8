"""Data: datasets, the DataLoader, augmentation transforms and test-time augmentation.

``scratchnet.data.digits()`` is bundled and works offline; MedMNIST, MNIST, Fashion-MNIST and
CIFAR-10 are read from the files their publishers distribute; ``synthetic_lesions`` generates
labelled images of any size.
"""

from scratchnet.data import transforms, tta
from scratchnet.data.dataloader import DataLoader
from scratchnet.data.dataset import (
    Dataset,
    ImageDataset,
    Subset,
    TensorDataset,
    collate,
    random_split,
)
from scratchnet.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from scratchnet.data.datasets import (
    MEDMNIST_INFO,
    cifar10,
    data_home,
    digits,
    fashion_mnist,
    medmnist,
    mnist,
    read_idx,
    synthetic_lesions,
)

__all__ = [
    "MEDMNIST_INFO",
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
    "cifar10",
    "collate",
    "data_home",
    "digits",
    "fashion_mnist",
    "medmnist",
    "mnist",
    "random_split",
    "read_idx",
    "synthetic_lesions",
    "transforms",
    "tta",
]
