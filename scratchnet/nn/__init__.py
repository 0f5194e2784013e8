"""Neural-network layers under PyTorch's names: ``from scratchnet import nn``.

``nn.Module`` and ``nn.Parameter`` (module.py), containers (container.py), the layers (conv.py,
linear.py, norm.py, activation.py, pooling.py, loss.py), ``nn.init`` and ``nn.functional``.
"""

from scratchnet.nn import functional, init, parallel
from scratchnet.nn.activation import LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from scratchnet.nn.container import ModuleDict, ModuleList, Sequential
from scratchnet.nn.conv import Conv2d
from scratchnet.nn.lazy import (
    LazyBatchNorm2d,
    LazyConv2d,
    LazyLinear,
    UninitializedBuffer,
    UninitializedParameter,
)
from scratchnet.nn.linear import Dropout, Flatten, Identity, Linear
from scratchnet.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from scratchnet.nn.module import Module, Parameter
from scratchnet.nn.norm import BatchNorm1d, BatchNorm2d
from scratchnet.nn.parallel import DataParallel
from scratchnet.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "DataParallel",
    "Dropout",
    "Flatten",
    "Identity",
    "LazyBatchNorm2d",
    "LazyConv2d",
    "LazyLinear",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "ReLU6",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "UninitializedBuffer",
    "UninitializedParameter",
    "functional",
    "init",
]
