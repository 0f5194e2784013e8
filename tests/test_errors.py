"""Bad input gets a clear error that names what is wrong, never a bare NumPy traceback."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.ops.elementwise import AddFunction


class FakeCudaArray:
    """Stands in for a CuPy array (this machine has no GPU): the backend knows arrays by their module."""

    __module__ = "cupy._core.core"

    def __init__(self, shape):
        self.shape, self.dtype, self.ndim, self.size = shape, np.dtype(np.float32), len(shape), int(np.prod(shape))


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
    with pytest.raises(ValueError, match=r"matmul: batch dims of \(2, 2, 3\) and \(3, 3, 4\) do not broadcast"):
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
    with pytest.raises(ValueError, match=r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as \(4, 2\)"):
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
    with pytest.raises(ValueError, match=r"cat: shapes must match except in dim 0, got \(2, 3\), \(2, 4\)"):
        sn.cat([x, sn.randn(2, 4)])
    with pytest.raises(IndexError, match="cat: dim 2 is out of range"):
        sn.cat([x, x], dim=2)
    with pytest.raises(ValueError, match="non-empty"):
        sn.cat([])
    with pytest.raises(ValueError, match="stack: all shapes must be equal"):
        sn.stack([x, sn.randn(3, 2)])
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] do not add up to 3, the size of dim 1"):
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
    with pytest.raises(RuntimeError, match=r"backward through Sum a second time.*retain_graph=True"):
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
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, got dtype int64"):
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
    with sn.no_grad(), pytest.raises(ValueError, match=r"copy_: source of shape \(2,\) does not match \(3,\)"):
        w.copy_(np.zeros(2))


# ---------------------------------------------------------------------- devices


def test_mixing_cpu_and_cuda_tensors_is_refused():
    cpu, cuda = sn.randn(2, 3), sn.Tensor(FakeCudaArray((2, 3)))
    assert cuda.device == "cuda" and cpu.device == "cpu"
    with pytest.raises(
        RuntimeError, match=r"Add: expected all tensors on the same device, got cpu \(2, 3\), cuda \(2, 3\)"
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
    with pytest.raises(ValueError, match=r"only one-element tensors can be converted, got shape \(2, 3\)"):
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

    with pytest.raises(sn.GradcheckError, match=r"input 0 \(shape \(3,\)\) is wrong at index \(\d,\): analytic"):
        sn.gradcheck(lambda x: Wrong()(x), [sn.randn(3, requires_grad=True)])
