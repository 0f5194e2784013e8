"""Factory functions: scratchnet.tensor() and friends."""

import scratchnet as sn


def test_python_floats_keep_full_precision_when_a_dtype_is_asked_for():
    # They used to pass through float32 first: 0.1 became 0.10000000149011612 and 1e-50 became 0.
    assert sn.tensor([0.1], dtype=sn.float64).item() == 0.1
    assert sn.tensor(1e-50, dtype=sn.float64).item() == 1e-50
    assert sn.tensor([[2.0**-149 / 4]], dtype=sn.float64).item() == 2.0**-151
    assert sn.tensor([0.1]).dtype == sn.float32  # no dtype: PyTorch's default
    assert sn.tensor([1.7], dtype=sn.int64).item() == 1  # truncated, as torch.tensor does
