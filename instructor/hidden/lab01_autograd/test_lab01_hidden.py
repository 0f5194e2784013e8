"""Hidden checks for lab 1: graded with ``grade --hidden-tests instructor/hidden``, never released.

They ask the same tasks on inputs the visible checks do not show, so that a solution fitted to the
visible checks alone (a numerical gradient that handles 2-D arrays only, say) is found out.
"""

import autograd_ops as lab
import numpy as np

import scratchnet as sn
from scratchnet.labs.expect import expect_close, expect_gradcheck

POINTS = {"1.6": 2, "1.7": 2}


def test_numerical_gradient_any_shape():
    """Task 1.6: numerical_gradient of a 3-D array and of a 0-D array"""
    x = np.random.default_rng(11).standard_normal((2, 3, 2))
    expected = np.cos(x.copy())
    expect_close(
        lab.numerical_gradient(lambda a: float(np.sin(a).sum()), x),
        expected,
        "3-D numerical_gradient",
        atol=1e-6,
    )
    scalar = np.array(0.7)
    expect_close(
        lab.numerical_gradient(lambda a: float(a**2), scalar),
        1.4,
        "0-D numerical_gradient",
        atol=1e-6,
    )


def test_two_layer_net_one_sample():
    """Task 1.7: the network on a batch of one sample, with one hidden unit, passes gradcheck"""
    rng = np.random.default_rng(12)
    shapes = [(1, 3), (3, 1), (1,), (1, 2), (2,)]
    inputs = [sn.tensor(rng.standard_normal(s) + 0.5, requires_grad=True) for s in shapes]
    expect_gradcheck(
        lab.two_layer_net,
        inputs,
        "two_layer_net on one sample",
        names=("x", "w1", "b1", "w2", "b2"),
    )
