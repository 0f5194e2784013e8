"""scratchnet: a deep-learning engine written from scratch on NumPy, for learning how CNNs work.

The public names mirror PyTorch's (``scratchnet.tensor``, ``Tensor.backward``, ``nn.Conv2d``,
``optim.SGD``), so what you learn here carries over. Importing scratchnet loads neither CuPy nor
torch nor Numba; those are used only when a GPU or a fast kernel is asked for.
"""

from scratchnet import autograd, cuda, data, nn, optim, train, viz
from scratchnet.analysis import empirical_receptive_field, receptive_field, summary
from scratchnet.creation import (
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from scratchnet.function import Function, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from scratchnet.gradcheck import GradcheckError, gradcheck
from scratchnet.io import load, save
from scratchnet.ops.elementwise import (
    abs,
    clamp,
    clip,
    exp,
    log,
    maximum,
    minimum,
    pow,
    relu,
    sigmoid,
    sqrt,
    tanh,
    where,
)
from scratchnet.ops.linalg import matmul
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
from scratchnet.rng import manual_seed
from scratchnet.train import load_checkpoint, save_checkpoint
from scratchnet.tensor import (
    Tensor,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int32,
    int64,
    uint8,
)

# Last, because the model files build on the names above (``from scratchnet import nn, flatten``).
from scratchnet import models

__version__ = "0.1.0"
