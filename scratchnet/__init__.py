"""scratchnet: a deep-learning engine written from scratch on NumPy, for learning how CNNs work.

The public names mirror PyTorch's (``scratchnet.tensor``, ``Tensor.backward``, ``nn.Conv2d``,
``optim.SGD``), so what you learn here carries over. Importing scratchnet loads neither CuPy nor
torch nor Numba; those are used only when a GPU or a fast kernel is asked for.

The layers. Each imports only from its own layer and the ones above it in this list
(``tests/test_layers.py`` checks it, and that there is no import cycle):

1. backend: ``backend.py`` (NumPy or CuPy, devices, the kernel registry), ``rng.py``, and the
   rules every op follows: ``dtypes.py`` (PyTorch's dtype promotion), ``shapes.py``
   (broadcasting, ``dim=``).
2. autograd core: ``tensor.py`` (the Tensor class), ``engine.py`` (recording ops and the backward
   walk), ``autograd/`` (PyTorch's ``torch.autograd`` names, the ``ctx`` protocol),
   ``function.py`` (the engine's ``Function`` by its short path), ``creation.py`` (``zeros``,
   ``randn``, ...), ``gradcheck.py``; ``cuda.py``, ``accelerator.py``, ``backends/``,
   ``distributed.py`` (PyTorch's device namespaces).
3. ops: ``ops/`` (each op a Function, forward and backward side by side; ``ops/tensor_methods.py``
   gives Tensor its operators) and, beside them, ``kernels/`` (the fast siblings, reached only
   through ``backend.fast_kernel``).
4. nn: ``nn/`` (modules and layers), ``optim/``, ``data/`` (and ``utils.data``, its PyTorch
   path), ``io/`` (save and load), ``compile.py``, ``hub.py``.
5. models: ``models/`` (VGG, NiN, GoogLeNet/Inception, ResNet, DenseNet, SENet).
6. applications: ``analysis/``, ``train/``, ``viz/``, ``lessons/``, ``labs/``, ``demos/``, and this
   package root.

Read in this order (each builds on the one before):

1. ``scratchnet/tensor.py``: what a tensor holds (array, grad, creator, version);
2. ``scratchnet/engine.py``: recording ops, the backward walk, accumulation, version checks;
3. ``scratchnet/ops/elementwise.py``: ops as Functions, forward and backward side by side;
4. ``scratchnet/ops/im2col.py``: turning convolution into a matrix product;
5. ``scratchnet/ops/conv.py``: the convolution op, forward and backward;
6. ``scratchnet/ops/norm.py``: batch normalisation;
7. ``scratchnet/nn/module.py``: modules, parameters, ``state_dict``;
8. ``scratchnet/models/googlenet.py``: a whole CNN built from the layers.
"""

import numpy as np

# 1. backend and rules
from scratchnet.backend import device
from scratchnet.dtypes import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from scratchnet.rng import Generator, manual_seed

# 2. autograd core
from scratchnet.tensor import Tensor
from scratchnet.engine import Function, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from scratchnet import accelerator, autograd, backends, cuda, distributed
from scratchnet.gradcheck import GradcheckError, gradcheck
from scratchnet.creation import (
    arange,
    empty,
    empty_like,
    as_tensor,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    normal,
    numel,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    rand_like,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)

# 3. ops
from scratchnet.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    cosh,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    pow,
    relu,
    sigmoid,
    sin,
    sinh,
    sqrt,
    sub,
    tanh,
    where,
)
from scratchnet.ops.grid import meshgrid
from scratchnet.ops.linalg import bmm, matmul
from scratchnet.ops.reduce import amax, amin, broadcast_to, expand, max, mean, min, sum, var
from scratchnet.ops.shape import (
    cat,
    chunk,
    concat,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from scratchnet.ops.sort import topk

# 4. nn, optim, data, io
from scratchnet import data, hub, nn, optim, utils
from scratchnet.compile import compile
from scratchnet.io import load, save

# 5. models
from scratchnet import models

# 6. applications
from scratchnet import train, viz
from scratchnet.analysis import empirical_receptive_field, receptive_field, summary
from scratchnet.train import load_checkpoint, save_checkpoint

# PyTorch's other names for the dtypes and for Tensor methods it also offers as functions.
float, double, half = float32, float64, float16
long, int = int64, int32
bool = bool_
int16 = short = np.int16
complex64 = cfloat = np.complex64
complex128 = cdouble = np.complex128
argmax, argmin, eq, ne, lt, le, gt, ge, equal, t = (
    Tensor.argmax,
    Tensor.argmin,
    Tensor.eq,
    Tensor.ne,
    Tensor.lt,
    Tensor.le,
    Tensor.gt,
    Tensor.ge,
    Tensor.equal,
    Tensor.t,
)
isclose, allclose, mm = Tensor.isclose, Tensor.allclose, Tensor.mm

__version__ = "0.1.0"
