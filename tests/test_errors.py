"""Bad input gets a clear error that names what is wrong, never a bare NumPy traceback."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn, optim
from scratchnet.ops.elementwise import AddFunction


class FakeCudaArray:
    """Stands in for a CuPy array (this machine has no GPU):
    the backend knows arrays by their module."""

    __module__ = "cupy._core.core"

    def __init__(self, shape):
        self.shape, self.dtype, self.ndim, self.size = (
            shape,
            np.dtype(np.float32),
            len(shape),
            int(np.prod(shape)),
        )


# ---------------------------------------------------------------------- shapes


def test_broadcast_error_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"):
        sn.randn(2, 3) + sn.randn(4, 5)
    with pytest.raises(ValueError, match=r"mul: shapes \(3,\) and \(2,\)"):
        sn.randn(3) * sn.randn(2)
    with pytest.raises(ValueError, match=r"maximum: shapes \(3,\) and \(2, 2\)"):
        sn.maximum(sn.randn(3), sn.randn(2, 2))
    with pytest.raises(ValueError, match=r"where: shapes \(2,\) and \(3,\)"):
        sn.where(sn.tensor([True, False]), sn.randn(3), 0.0)


def test_comparison_broadcast_error():
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\) cannot be broadcast"):
        _ = sn.randn(2) < sn.randn(3)


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        sn.randn(2, 3) @ sn.randn(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4,\)"):
        sn.randn(3) @ sn.randn(4)
    with pytest.raises(
        ValueError, match=r"matmul: batch dims of \(2, 2, 3\) and \(3, 3, 4\) do not broadcast"
    ):
        sn.randn(2, 2, 3) @ sn.randn(3, 3, 4)
    with pytest.raises(ValueError, match=r"at least 1 dimension, got shapes \(\) and \(3,\)"):
        sn.tensor(2.0) @ sn.randn(3)


def test_broadcast_to_and_expand_errors():
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(3,\) to \(2, 4\)"):
        sn.randn(3).broadcast_to((2, 4))
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2,\) to \(-1, 2\)"):
        sn.randn(2).expand(-1, 2)


def test_shape_op_errors():
    x = sn.randn(2, 3)
    with pytest.raises(
        ValueError,
        match=r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as \(4, 2\)",
    ):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="not a permutation"):
        x.permute(0, 5)
    with pytest.raises(IndexError, match="transpose: dim 2 is out of range"):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match="unsqueeze: dim 4 out of range"):
        x.unsqueeze(4)
    with pytest.raises(ValueError, match="start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)
    with pytest.raises(
        ValueError, match=r"cat: shapes must match except in dim 0, got \(2, 3\), \(2, 4\)"
    ):
        sn.cat([x, sn.randn(2, 4)])
    with pytest.raises(IndexError, match="cat: dim 2 is out of range"):
        sn.cat([x, x], dim=2)
    with pytest.raises(ValueError, match="non-empty"):
        sn.cat([])
    with pytest.raises(ValueError, match="stack: all shapes must be equal"):
        sn.stack([x, sn.randn(3, 2)])
    with pytest.raises(
        ValueError, match=r"split: sizes \[1, 1\] do not add up to 3, the size of dim 1"
    ):
        x.split([1, 1], dim=1)
    with pytest.raises(ValueError, match="chunks must be positive"):
        x.chunk(0)
    with pytest.raises(ValueError, match="even number"):
        sn.pad(x, (1, 2, 3))
    with pytest.raises(IndexError, match=r"indexing a tensor of shape \(2, 3\) with \(5, 0\)"):
        x[5, 0]


def test_reduction_dim_errors():
    x = sn.randn(2, 3)
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dimensions"):
        x.sum(2)
    with pytest.raises(ValueError, match="names the same dimension twice"):
        x.mean((1, -1))


# ---------------------------------------------------------------------- backward


def test_backward_on_non_scalar_needs_a_gradient():
    y = sn.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) needs a `gradient`.*loss.mean\(\)"):
        y.backward()


def test_backward_gradient_of_the_wrong_shape():
    y = sn.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), expected \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_through_a_freed_graph():
    x = sn.randn(3, requires_grad=True)
    loss = (x.exp() * 2).sum()
    loss.backward()
    with pytest.raises(
        RuntimeError, match=r"backward through Sum a second time.*retain_graph=True"
    ):
        loss.backward()


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (sn.randn(3) * 2).sum().backward()
    x = sn.randn(3, requires_grad=True)
    with sn.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_requires_grad_on_integer_tensors():
    with pytest.raises(
        RuntimeError, match="only floating-point tensors can require gradients, got dtype int64"
    ):
        sn.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype bool"):
        sn.tensor([True]).requires_grad_()
    with pytest.raises(RuntimeError, match="int32"):
        sn.zeros(2, dtype=sn.int32, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating-point"):
        sn.arange(3, requires_grad=True)


def test_inplace_change_of_a_tensor_that_requires_grad():
    w = sn.randn(3, requires_grad=True)
    for change in [lambda: w.zero_(), lambda: w.fill_(1.0), lambda: w.copy_(np.zeros(3))]:
        with pytest.raises(RuntimeError, match="no_grad"):
            change()
    with (
        sn.no_grad(),
        pytest.raises(ValueError, match=r"copy_: source of shape \(2,\) does not match \(3,\)"),
    ):
        w.copy_(np.zeros(2))


# ---------------------------------------------------------------------- devices


def test_mixing_cpu_and_cuda_tensors_is_refused():
    cpu, cuda = sn.randn(2, 3), sn.Tensor(FakeCudaArray((2, 3)))
    assert cuda.device == "cuda" and cpu.device == "cpu"
    with pytest.raises(
        RuntimeError,
        match=r"Add: expected all tensors on the same device, got cpu \(2, 3\), cuda \(2, 3\)",
    ):
        AddFunction()(cpu, cuda)
    with pytest.raises(RuntimeError, match=r"same device.*\.cuda\(\) or \.cpu\(\)"):
        cpu * cuda


def test_to_cuda_without_cupy_says_what_to_install():
    if sn.cuda.is_available():
        pytest.skip("this machine has CuPy and a GPU")
    with pytest.raises(RuntimeError, match=r"needs a CUDA GPU and CuPy.*pip install cupy-cuda12x"):
        sn.randn(2).to("cuda")
    with pytest.raises(RuntimeError, match="pip install cupy"):
        sn.randn(2).cuda()
    with pytest.raises(RuntimeError, match="pip install cupy"):
        sn.zeros(2, device="cuda")


def test_unknown_device():
    with pytest.raises(ValueError, match=r"unknown device 'tpu': expected 'cpu' or 'cuda'"):
        sn.randn(2).to("tpu")


def test_numpy_of_a_cuda_tensor():
    with pytest.raises(TypeError, match=r"call \.cpu\(\) first"):
        sn.Tensor(FakeCudaArray((2,))).numpy()


# ---------------------------------------------------------------------- conversions


def test_operands_that_are_not_numbers():
    x = sn.randn(2)
    with pytest.raises(TypeError, match="cannot make a tensor from NoneType None"):
        x + None
    with pytest.raises(TypeError, match="cannot make a tensor from str 'a'"):
        x * "a"
    with pytest.raises(TypeError, match="cannot make a tensor"):
        sn.tensor([None, 1])


def test_item_and_truth_value_errors():
    x = sn.randn(2, 3)
    with pytest.raises(
        ValueError, match=r"only one-element tensors can be converted, got shape \(2, 3\)"
    ):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(ValueError, match="at least one of min and max"):
        x.clamp()


def test_gradcheck_error_message():
    class Wrong(sn.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy  # should be 2 * gy

    with pytest.raises(
        sn.GradcheckError, match=r"input 0 \(shape \(3,\)\) is wrong at index \(\d,\): analytic"
    ):
        sn.gradcheck(lambda x: Wrong()(x), [sn.randn(3, requires_grad=True)])


# ---------------------------------------------------------------------- wrong usages, table-driven

_MODEL = nn.Linear(3, 2)
_ARRAY = np.ones((2, 3), np.float32)
_IMAGES = np.ones((2, 1, 2, 2), np.float32)

# (what a student wrote, the exception, a pattern the message must match). Each message names the
# scratchnet concept (Tensor, the layer, the op) and the shapes or values involved, and says what to
# do. Every row here gave a bare or misleading error (or a silently bogus object) before issue 13.
WRONG_USAGES = [
    (
        "model(ndarray)",
        lambda: _MODEL(_ARRAY),
        TypeError,
        r"Linear\(3, 2\): expected a scratchnet Tensor, got numpy\.ndarray of shape \(2, 3\); "
        r"wrap it with scratchnet\.tensor\(x\) or scratchnet\.from_numpy\(x\)",
    ),
    (
        "F.relu(ndarray)",
        lambda: F.relu(np.ones(3)),
        TypeError,
        r"Relu: expected a scratchnet Tensor, got numpy\.ndarray of shape \(3,\)",
    ),
    (
        "layer(list)",
        lambda: nn.ReLU()([1.0, 2.0]),
        TypeError,
        r"Relu: expected a scratchnet Tensor, got list",
    ),
    (
        "Sequential(...)(int)",
        lambda: nn.Sequential(nn.Linear(3, 2))(3),
        TypeError,
        r"Linear\(3, 2\): expected a scratchnet Tensor, got int",
    ),
    (
        "Conv2d(ndarray)",
        lambda: nn.Conv2d(1, 1, 1)(_IMAGES),
        TypeError,
        r"Conv2d\(1, 1\): expected a scratchnet Tensor, got numpy\.ndarray of shape \(2, 1, 2, 2\)",
    ),
    (
        "BatchNorm2d(ndarray)",
        lambda: nn.BatchNorm2d(1)(_IMAGES),
        TypeError,
        r"batch_norm: expected a scratchnet Tensor, got numpy\.ndarray of shape \(2, 1, 2, 2\)",
    ),
    (
        "cross_entropy(ndarray)",
        lambda: F.cross_entropy(_ARRAY, sn.tensor([0, 1])),
        TypeError,
        r"cross_entropy: input: expected a scratchnet Tensor, got numpy\.ndarray of shape \(2, 3\)",
    ),
    (
        "reshape(ndarray)",
        lambda: sn.reshape(np.ones(2), 2, 1),
        TypeError,
        r"reshape: expected a scratchnet Tensor, got numpy\.ndarray of shape \(2,\)",
    ),
    (
        "exp(ndarray)",
        lambda: sn.exp(np.ones(2)),
        TypeError,
        r"Exp: expected a scratchnet Tensor, got numpy\.ndarray",
    ),
    (
        "max(ndarray, dim)",
        lambda: sn.max(_ARRAY, 1),
        TypeError,
        r"max: expected a scratchnet Tensor, got numpy\.ndarray of shape \(2, 3\)",
    ),
    (
        "amax(ndarray)",
        lambda: sn.amax(_ARRAY),
        TypeError,
        r"amax: expected a scratchnet Tensor, got numpy\.ndarray",
    ),
    (
        "cat(lists)",
        lambda: sn.cat([[1, 2], [3]]),
        TypeError,
        r"cat: element 0 of the list: expected a scratchnet Tensor, got list",
    ),
    (
        "load_state_dict(path)",
        lambda: _MODEL.load_state_dict("model.npz"),
        TypeError,
        r"Linear\.load_state_dict expects a mapping of names to arrays .*got str 'model\.npz'; to "
        r"load a file, read it first: model\.load_state_dict\(scratchnet\.load\('model\.npz'\)\)",
    ),
    (
        "load_state_dict(None)",
        lambda: _MODEL.load_state_dict(None),
        TypeError,
        r"Linear\.load_state_dict expects a mapping .*got NoneType",
    ),
    (
        "SGD(model)",
        lambda: optim.SGD(_MODEL, lr=0.1),
        TypeError,
        r"SGD expects the parameters of a model, got the Linear model itself; pass "
        r"SGD\(model\.parameters\(\)",
    ),
    (
        "SGD(model.parameters)",
        lambda: optim.SGD(_MODEL.parameters, lr=0.1),
        TypeError,
        r"SGD expects an iterable of Tensors, got the method parameters itself; call it: "
        r"SGD\(model\.parameters\(\)",
    ),
    (
        "SGD(tensor)",
        lambda: optim.SGD(sn.randn(3, requires_grad=True), lr=0.1),
        TypeError,
        r"SGD expects an iterable of Tensors, got a "
        r"single Tensor of shape \(3,\); wrap it in a list",
    ),
    (
        "optimizer.load_state_dict(path)",
        lambda: optim.Adam(_MODEL.parameters()).load_state_dict("opt.npz"),
        TypeError,
        r"Adam\.load_state_dict expects what "
        r"optimizer\.state_dict\(\) returns .*got str 'opt\.npz'",
    ),
    (
        "Sequential(layer, class)",
        lambda: nn.Sequential(nn.Linear(3, 2), nn.ReLU),
        TypeError,
        r"Sequential: module '1' is the class ReLU, not "
        r"a layer; create one by calling it: nn\.ReLU\(\)",
    ),
    (
        "Sequential([layers])",
        lambda: nn.Sequential([nn.Linear(3, 2), nn.ReLU()]),
        TypeError,
        r"Sequential takes its layers as separate arguments, got a list; unpack it: "
        r"nn\.Sequential\(\*layers\)",
    ),
    (
        "ModuleList(layer)",
        lambda: nn.ModuleList(nn.Linear(3, 2)),
        TypeError,
        r"ModuleList expects an iterable of modules, got Linear; wrap a single layer in a list",
    ),
    (
        "Conv2d kernel 0",
        lambda: nn.Conv2d(3, 8, 0),
        ValueError,
        r"Conv2d\(3, 8\): kernel_size must be >= 1, got \(0, 0\)",
    ),
    (
        "Conv2d stride 0",
        lambda: nn.Conv2d(3, 8, 3, stride=0),
        ValueError,
        r"Conv2d\(3, 8\): stride must be >= 1",
    ),
    (
        "Conv2d padding -1",
        lambda: nn.Conv2d(3, 8, 3, padding=-1),
        ValueError,
        r"Conv2d\(3, 8\): padding must be >= 0, got \(-1, -1\)",
    ),
    (
        "Conv2d('3', 8, 3)",
        lambda: nn.Conv2d("3", 8, 3),
        TypeError,
        r"Conv2d\('3', 8\): in_channels must be an int, got str",
    ),
    (
        "Conv2d on channels-last",
        lambda: nn.Conv2d(3, 8, 3)(sn.randn(2, 32, 32, 3)),
        ValueError,
        r"Conv2d\(3, 8\) expects 3 input channels, got 32 for input of shape \(2, 32, 32, 3\); "
        r"channels last\? use x\.permute\(0, 3, 1, 2\)",
    ),
    (
        "Linear(3.5, 2)",
        lambda: nn.Linear(3.5, 2),
        TypeError,
        r"Linear\(3\.5, 2\): in_features must be an int, got float",
    ),
    (
        "Linear(-1, 2)",
        lambda: nn.Linear(-1, 2),
        ValueError,
        r"Linear\(-1, 2\): in_features must be >= 0, got -1",
    ),
    (
        "Linear on int64",
        lambda: _MODEL(sn.tensor([[1, 2, 3]])),
        TypeError,
        r"Linear\(3, 2\): expected one dtype, got input int64 \(1, 3\), weight float32 \(2, 3\)",
    ),
    (
        "F.linear bias shape",
        lambda: F.linear(sn.randn(2, 3), sn.randn(4, 3), sn.randn(3)),
        ValueError,
        r"Linear\(3, 4\): bias must have shape \(4,\) for weight of shape \(4, 3\), got \(3,\)",
    ),
    (
        "matmul dtypes",
        lambda: sn.randn(2, 3) @ sn.tensor([[1], [2], [3]]),
        TypeError,
        r"matmul: expected one dtype, got the first operand "
        r"float32 \(2, 3\), the second operand int64 \(3, 1\)",
    ),
    (
        "where(float mask)",
        lambda: sn.where(sn.randn(2), sn.randn(2), 0.0),
        TypeError,
        r"where: condition must be boolean, got dtype float32 of shape \(2,\); compare first",
    ),
    (
        "manual_seed('abc')",
        lambda: sn.manual_seed("abc"),
        ValueError,
        r"manual_seed: the seed must be an integer, got str 'abc'",
    ),
    (
        "manual_seed(None)",
        lambda: sn.manual_seed(None),
        TypeError,
        r"manual_seed: the seed must be an integer, got NoneType",
    ),
    (
        "tensor(ragged list)",
        lambda: sn.tensor([[1, 2], [3]]),
        ValueError,
        r"tensor\(\): expected a sequence of length 2 "
        r"at dim 1 \(got 1\); every row of a nested list",
    ),
    (
        "tensor(list of list and number)",
        lambda: sn.tensor([[1, 2], 3]),
        ValueError,
        r"tensor\(\): expected a sequence at dim 1, got int 3",
    ),
    (
        "randn(2.5)",
        lambda: sn.randn(2.5),
        TypeError,
        r"size must be a tuple of ints, got float 2\.5 in \(2\.5,\)",
    ),
    ("zeros('a')", lambda: sn.zeros("a"), TypeError, r"size must be a tuple of ints, got str 'a'"),
    ("randn(-1)", lambda: sn.randn(2, -1), ValueError, r"negative dimension: -1 in size \(2, -1\)"),
]

# Wrong usages whose message was already clear before issue 13: kept here so it stays so.
ALREADY_CLEAR = [
    (
        "cross_entropy float targets",
        lambda: F.cross_entropy(sn.randn(4, 3), sn.tensor([0.0, 1, 2, 0])),
        TypeError,
        r"cross_entropy: target must hold integer class "
        r"indices in \[0, 3\), got dtype float32 of shape \(4,\)",
    ),
    (
        "cross_entropy target out of range",
        lambda: F.cross_entropy(sn.randn(4, 3), sn.tensor([0, 1, 2, 3])),
        IndexError,
        r"cross_entropy: target values must be class "
        r"indices in \[0, 3\) for input of shape \(4, 3\)",
    ),
    (
        "cross_entropy batch mismatch",
        lambda: F.cross_entropy(sn.randn(4, 3), sn.tensor([0, 1, 2])),
        ValueError,
        r"cross_entropy: target of shape \(3,\) does not match input of shape \(4, 3\)",
    ),
    (
        "cross_entropy arguments swapped",
        lambda: F.cross_entropy(sn.tensor([0, 1]), sn.randn(2, 3)),
        ValueError,
        r"cross_entropy: expected input of shape \(N, "
        r"C\) or \(N, C, d1, \.\.\.\), got shape \(2,\)",
    ),
    (
        "mse_loss shape mismatch",
        lambda: F.mse_loss(sn.randn(4, 1), sn.randn(4)),
        ValueError,
        r"mse_loss: input of shape \(4, 1\) and target of shape \(4,\) must have the same shape",
    ),
    (
        "Conv2d on 3-D input",
        lambda: nn.Conv2d(3, 8, 3)(sn.randn(3, 32, 32)),
        ValueError,
        r"Conv2d\(3, 8\) expects a 4-D input \(N, C, H, W\), got shape \(3, 32, 32\)",
    ),
    (
        "Conv2d wrong channels",
        lambda: nn.Conv2d(3, 8, 3)(sn.randn(1, 1, 28, 28)),
        ValueError,
        r"Conv2d\(3, 8\) expects 3 input channels, got 1 for input of shape \(1, 1, 28, 28\)$",
    ),
    (
        "Conv2d kernel larger than input",
        lambda: nn.Conv2d(3, 8, 5)(sn.randn(1, 3, 3, 3)),
        ValueError,
        r"conv2d: kernel 5x5 .*larger than the padded input 3x3 \(input of shape \(1, 3, 3, 3\)",
    ),
    (
        "Linear wrong in_features",
        lambda: nn.Linear(4, 2)(sn.randn(2, 3)),
        ValueError,
        r"Linear\(4, 2\) expects inputs of shape \(\.\.\., 4\), got shape \(2, 3\)",
    ),
    (
        "BatchNorm2d on 2-D input",
        lambda: nn.BatchNorm2d(3)(sn.randn(4, 3)),
        ValueError,
        r"BatchNorm2d\(3\) expects a 4-D \(N, C, H, W\) input, got shape \(4, 3\)",
    ),
    (
        "BatchNorm2d wrong channels",
        lambda: nn.BatchNorm2d(3)(sn.randn(4, 5, 2, 2)),
        ValueError,
        r"BatchNorm2d\(3\) expects 3 channels, got 5 for input of shape \(4, 5, 2, 2\)",
    ),
    (
        "BatchNorm1d batch of 1",
        lambda: nn.BatchNorm1d(3)(sn.randn(1, 3)),
        ValueError,
        r"batch_norm: expected more than 1 value per "
        r"channel when training, got input of shape \(1, 3\)",
    ),
    (
        "MaxPool2d kernel larger than input",
        lambda: nn.MaxPool2d(5)(sn.randn(1, 1, 3, 3)),
        ValueError,
        r"max_pool2d: kernel 5x5 .*does not fit input of shape \(1, 1, 3, 3\)",
    ),
    (
        "MaxPool2d(0)",
        lambda: nn.MaxPool2d(0)(sn.randn(1, 1, 4, 4)),
        ValueError,
        r"max_pool2d: kernel_size, stride and dilation must be >= 1 .*got kernel_size \(0, 0\)",
    ),
    (
        "AdaptiveAvgPool2d on 2-D",
        lambda: nn.AdaptiveAvgPool2d(1)(sn.randn(3, 4)),
        ValueError,
        r"adaptive_avg_pool2d: expected input of shape "
        r"\(N, C, H, W\) or \(C, H, W\), got shape \(3, 4\)",
    ),
    (
        "view to an incompatible shape",
        lambda: sn.randn(2, 3).view(4, 2),
        ValueError,
        r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as \(4, 2\)",
    ),
    (
        "flatten start after end",
        lambda: nn.Flatten(2, 1)(sn.randn(2, 3, 4)),
        ValueError,
        r"flatten: start_dim 2 comes after end_dim 1 for shape \(2, 3, 4\)",
    ),
    (
        "backward on a non-scalar",
        lambda: (sn.randn(3, requires_grad=True) * 2).backward(),
        RuntimeError,
        r"backward\(\) on a tensor of shape \(3,\) needs a `gradient`",
    ),
    (
        "backward on a tensor without grad",
        lambda: sn.tensor(3.0).backward(),
        RuntimeError,
        r"does not require grad",
    ),
    (
        "requires_grad on integers",
        lambda: sn.tensor([1, 2], requires_grad=True),
        RuntimeError,
        r"only floating-point tensors can require gradients, got dtype int64",
    ),
    (
        "mean of integers",
        lambda: sn.tensor([1, 2]).mean(),
        TypeError,
        r"mean\(\): input of dtype int64 \(shape \(2,\)\) must be floating point",
    ),
    (
        "item of many values",
        lambda: sn.randn(3).item(),
        ValueError,
        r"item\(\): only one-element tensors can be converted, got shape \(3,\)",
    ),
    (
        "softmax without dim",
        lambda: F.softmax(sn.randn(2, 3)),
        ValueError,
        r"softmax: pass dim explicitly",
    ),
    (
        "Dropout(1.5)",
        lambda: nn.Dropout(1.5),
        ValueError,
        r"Dropout: probability p must be in \[0, 1\], got 1\.5",
    ),
    (
        "train('no')",
        lambda: _MODEL.train("no"),
        ValueError,
        r"train\(mode\): mode is expected to be a bool",
    ),
    (
        "to('gpu')",
        lambda: sn.randn(2).to("gpu"),
        ValueError,
        r"unknown device 'gpu': expected 'cpu' or 'cuda'",
    ),
]


@pytest.mark.parametrize(
    ("usage", "wrong", "error", "message"),
    WRONG_USAGES + ALREADY_CLEAR,
    ids=[row[0] for row in WRONG_USAGES + ALREADY_CLEAR],
)
def test_wrong_usage_gets_a_clear_error(usage, wrong, error, message):
    with pytest.raises(error, match=message) as raised:
        wrong()
    text = str(raised.value)
    assert "memoryview" not in text and "not iterable" not in text and "inhomogeneous" not in text


def test_var_of_one_value_then_backward_does_not_crash():
    x = sn.tensor([2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        y = x.var()
    y.backward()
    assert np.isnan(y.item()) and np.isnan(x.grad.item())


def test_from_numpy_shares_memory_and_keeps_the_dtype():
    array = np.zeros(3)
    t = sn.from_numpy(array)
    array[0] = 5.0
    assert t.dtype == np.float64 and t.tolist() == [5.0, 0.0, 0.0]
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy\.ndarray, got list"):
        sn.from_numpy([1.0])


def test_seeds_as_torch_takes_them():
    """int(seed), as torch.manual_seed: a negative seed is the same 64 bits as its wrap-around."""
    assert sn.manual_seed(-1).random() == sn.manual_seed(2**64 - 1).random()
    assert sn.manual_seed(7.0).random() == sn.manual_seed(7).random()
    with pytest.raises(ValueError, match=r"in \[-2\*\*63, 2\*\*64\)"):
        sn.manual_seed(2**64)
