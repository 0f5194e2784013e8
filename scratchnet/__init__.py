"""scratchnet: a deep-learning engine written from scratch on NumPy, for learning how CNNs work.

The public names mirror PyTorch's (``scratchnet.tensor``, ``Tensor.backward``, ``nn.Conv2d``,
``optim.SGD``), so what you learn here carries over. Importing scratchnet loads neither CuPy nor
torch nor Numba; those are used only when a GPU or a fast kernel is asked for.
"""

import numpy as np

from scratchnet import (
    accelerator,
    autograd,
    backends,
    cuda,
    data,
    distributed,
    hub,
    nn,
    optim,
    train,
    utils,
    viz,
)
from scratchnet.analysis import empirical_receptive_field, receptive_field, summary
from scratchnet.backend import device
from scratchnet.compile import compile
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
from scratchnet.function import Function, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from scratchnet.gradcheck import GradcheckError, gradcheck
from scratchnet.io import load, save
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
from scratchnet.rng import Generator, manual_seed
from scratchnet.train import load_checkpoint, save_checkpoint
from scratchnet.tensor import (
    Tensor,
    get_default_dtype,
    set_default_dtype,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int32,
    int64,
    uint8,
)

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

# Last, because the model files build on the names above (``from scratchnet import nn, flatten``).
from scratchnet import models

__version__ = "0.1.0"
