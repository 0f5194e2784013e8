"""Winograd F(2x2, 3x3): the reference (ops/winograd.py) against the im2col conv, and the Numba
kernels (kernels/numba_winograd.py) against the reference.

The float32 bound. Winograd's transforms enlarge what is summed: a value of V = B^T d B is a sum
of up to 4 inputs ((sum of |row of B^T|)^2 = 2 * 2), a value of U = G g G^T of up to 2.25 times
the largest weight (1.5 * 1.5), and A^T m A sums 9 products, so a term |x||w| enters an output
with weight up to 4 * 2.25 * ... = 64/9, about 7 times what the direct 3x3 sum gives it: the
rounding errors can be up to about 7x im2col's. Measured normwise, in units of float32's eps
times the largest output of the same product on |inputs| (``scale`` below), over 300 random
layers (N 1..3, C and K 1..9 and 64, H and W 1..9, padding 0..2): im2col 1.2 (forward), 0.8
(input gradient), 1.3 (weight gradient); Winograd 1.5, 1.7, 2.5. The tested bound,
``FLOAT32_BOUND = 16`` units, is 64/9 times im2col's worst (9.2) with margin, 6x the worst
Winograd error seen; a wrong transform is off by O(1), millions of units.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.backend import reference_kernels
from scratchnet.ops import winograd as ref

FLOAT32_BOUND = 16  # in units of eps(float32) * scale; derivation and measurements above
FLOAT64_RTOL = 1e-10

layers = st.tuples(
    st.integers(1, 3),  # N
    st.integers(1, 4),  # C
    st.integers(1, 4),  # K
    st.integers(1, 9),  # H
    st.integers(1, 9),  # W
    st.integers(0, 2),  # padding
    st.integers(0, 2**32 - 1),  # seed
)


def drawn_layer(layer):
    """x, w, b, gy and the padding of a layer drawn by hypothesis; skips one with no output."""
    _N, _C, _K, H, W, padding, _seed = layer
    assume(H + 2 * padding >= 3 and W + 2 * padding >= 3)  # the 3x3 kernel fits the padded input
    return (*random_layer(*layer), padding)


def random_layer(N, C, K, H, W, padding, seed, dtype=np.float64):
    """x, w, b and an upstream gradient gy (random, never ones) for one layer."""
    rng = np.random.default_rng(seed)
    OH, OW = H + 2 * padding - 2, W + 2 * padding - 2
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((K, C, 3, 3))
    b = rng.standard_normal(K)
    gy = rng.standard_normal((N, K, OH, OW))
    return tuple(a.astype(dtype) for a in (x, w, b, gy))


def im2col_products(x, w, b, gy, padding):
    """y, dL/dx, dL/dw of the im2col conv on the NumPy reference kernels (the textbook path)."""
    with reference_kernels():
        xt = sn.tensor(x, requires_grad=True)
        wt = sn.tensor(w, requires_grad=True)
        y = F.conv2d(xt, wt, sn.tensor(b), padding=padding)
        y.backward(sn.tensor(gy))
    return y.array, xt.grad.array, wt.grad.array


def winograd_products(module, x, w, b, gy, padding):
    return (
        module.winograd_conv2d_forward(x, w, b, padding),
        module.winograd_conv2d_backward_input(gy, w, padding, x.shape),
        module.winograd_conv2d_backward_weight(x, gy, padding),
    )


def scale(x, w, b, gy, padding):
    """The largest output of each product computed on |inputs|: what the rounding is relative to."""
    x, w, b, gy = (np.abs(a.astype(np.float64)) for a in (x, w, b, gy))
    return tuple(float(a.max()) for a in winograd_products(ref, x, w, b, gy, padding))


def fast_module():
    pytest.importorskip("numba", reason="Numba is not installed: no fast Winograd kernels")
    from scratchnet.kernels import numba_winograd

    return numba_winograd


# --------------------------------------------------------------------------- the matrices


def test_one_dimensional_f23_is_a_correlation_with_four_multiplications():
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(4), rng.standard_normal(3)
    products = (ref.G @ g) * (ref.B_T @ d)  # the only multiplications: 4, not 2 * 3
    direct = [d[0:3] @ g, d[1:4] @ g]
    np.testing.assert_allclose(ref.A_T @ products, direct, rtol=1e-14)


def test_filter_transform_evaluates_at_0_1_minus1_infinity():
    g = np.array([2.0, 3.0, 5.0])  # g(t) = 2 + 3t + 5t^2
    at_0, at_1, at_minus_1, leading = 2.0, 10.0, 4.0, 5.0
    np.testing.assert_array_equal(ref.G @ g, [at_0, at_1 / 2, at_minus_1 / 2, leading])


# --------------------------------------------------------------------------- parity


@settings(max_examples=40, deadline=None)
@given(layers)
def test_reference_matches_im2col_in_float64(layer):
    x, w, b, gy, padding = drawn_layer(layer)
    expected = im2col_products(x, w, b, gy, padding)
    for name, got, want, size in zip(
        ("forward", "input gradient", "weight gradient"),
        winograd_products(ref, x, w, b, gy, padding),
        expected,
        scale(x, w, b, gy, padding),
        strict=True,
    ):
        assert got.shape == want.shape and got.dtype == np.float64, name
        np.testing.assert_allclose(got, want, rtol=0, atol=FLOAT64_RTOL * size, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(layers)
def test_float32_error_is_within_the_stated_bound(layer):
    x, w, b, gy, padding = drawn_layer(layer)
    exact = winograd_products(ref, x, w, b, gy, padding)  # float64: exact to 1e-10, tested above
    sizes = scale(x, w, b, gy, padding)
    x32, w32, b32, gy32 = (a.astype(np.float32) for a in (x, w, b, gy))
    for module in (ref, fast_module()):
        for got, want, size in zip(
            winograd_products(module, x32, w32, b32, gy32, padding), exact, sizes, strict=True
        ):
            assert got.dtype == np.float32
            error = np.abs(got - want).max() / (np.finfo(np.float32).eps * size)
            assert error <= FLOAT32_BOUND, (module.__name__, error)


@settings(max_examples=40, deadline=None)
@given(layers)
def test_fast_kernels_match_the_reference(layer):
    numba_winograd = fast_module()
    x, w, b, gy, padding = drawn_layer(layer)
    for got, want, size in zip(
        winograd_products(numba_winograd, x, w, b, gy, padding),
        winograd_products(ref, x, w, b, gy, padding),
        scale(x, w, b, gy, padding),
        strict=True,
    ):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * size)


def test_fast_kernels_chunk_the_batch(monkeypatch):
    numba_winograd = fast_module()
    x, w, b, gy = random_layer(3, 2, 3, 6, 5, 1, seed=7)
    expected = winograd_products(ref, x, w, b, gy, 1)
    monkeypatch.setattr(numba_winograd, "TILE_BUFFER_BYTES", 1)  # one image per chunk
    for got, want in zip(winograd_products(numba_winograd, x, w, b, gy, 1), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fast_kernels_take_non_contiguous_inputs():
    numba_winograd = fast_module()
    x, w, b, _ = random_layer(2, 3, 2, 5, 5, 2, seed=3, dtype=np.float32)
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # F-ordered planes
    np.testing.assert_allclose(
        numba_winograd.winograd_conv2d_forward(x_t, w, b, (2, 2)),
        ref.winograd_conv2d_forward(x, w, b, 2),
        rtol=1e-5,
        atol=1e-5,
    )


# --------------------------------------------------------------------------- what it refuses


@pytest.mark.parametrize("module_name", ["reference", "numba"])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "padding", "message"),
    [
        ((1, 2, 5, 5), (3, 2, 5, 5), 1, r"\(K, C, 3, 3\) weight"),
        ((1, 2, 5, 5), (3, 4, 3, 3), 1, "C = 2 channels"),
        ((1, 2, 5, 5), (3, 2, 3, 3), 3, "padding must be 0, 1 or 2"),
        ((1, 2, 2, 5), (3, 2, 3, 3), 0, "smaller than the 3x3 kernel"),
        ((2, 5, 5), (3, 2, 3, 3), 1, r"expected input \(N, C, H, W\)"),
    ],
)
def test_shapes_it_cannot_compute_are_refused_by_name(
    module_name, x_shape, w_shape, padding, message
):
    module = ref if module_name == "reference" else fast_module()
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    with pytest.raises(ValueError, match=message) as error:
        module.winograd_conv2d_forward(x, w, None, padding)
    assert "winograd_conv2d_forward" in str(error.value)


# --------------------------------------------------------------------------- the selection rule


LAYER_3X3 = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, dtype=np.float32)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (dict(w_shape=(16, 16, 5, 5)), "5x5 kernel"),
        (dict(stride=(2, 2)), "stride 2"),
        (dict(dilation=(2, 2)), "dilation 2"),
        (dict(groups=2), "grouped"),
        (dict(padding=(3, 3)), "padding 3"),
        (dict(x_shape=(8, 16, 1, 1), padding=(0, 0)), "input smaller than the kernel"),
        (dict(dtype=np.float16), "float16"),
    ],
)
def test_use_winograd_never_takes_a_layer_it_cannot_compute(monkeypatch, change, why):
    numba_winograd = fast_module()
    monkeypatch.setenv("SCRATCHNET_WINOGRAD", "on")
    layer = dict(x_shape=(8, 16, 16, 16), w_shape=(16, 16, 3, 3), **LAYER_3X3) | change
    assert not numba_winograd.use_winograd(**layer), why


def test_the_setting_overrides_the_rule(monkeypatch):
    numba_winograd = fast_module()
    small = dict(x_shape=(1, 1, 4, 4), w_shape=(1, 1, 3, 3), **LAYER_3X3)
    assert not numba_winograd.winograd_wins(1, 1, 1, 4, 4, np.float32)  # too small to win
    for mode, expected in [("auto", False), ("on", True), ("off", False), (" ON ", True)]:
        monkeypatch.setenv("SCRATCHNET_WINOGRAD", mode)
        assert numba_winograd.use_winograd(**small) is expected, mode
    monkeypatch.setenv("SCRATCHNET_WINOGRAD", "fast")
    with pytest.raises(ValueError, match=r"SCRATCHNET_WINOGRAD='fast': expected one of"):
        numba_winograd.use_winograd(**small)
    monkeypatch.delenv("SCRATCHNET_WINOGRAD")
    assert numba_winograd.winograd_mode() == "auto"


def test_the_rule_picks_winograd_where_it_measured_faster():
    wins = fast_module().winograd_wins
    # float32: slower in 2-thread training steps (see WINOGRAD_MIN_MAP's comment), so never
    assert not wins(64, 16, 16, 32, 32, np.float32)  # ResNet-20's first stage
    assert not wins(1, 64, 64, 224, 224, np.float32)  # VGG-16: 1.15x slower steps
    assert not wins(64, 32, 32, 16, 16, np.float32)  # ResNet-20's second stage: im2col
    assert not wins(64, 64, 64, 8, 8, np.float32)  # and its third
    assert not wins(64, 8, 16, 32, 32, np.float32)  # fewer channels than measured
    assert not wins(64, 16, 16, 32, 32, np.float16)
    assert wins(64, 64, 64, 8, 8, np.float64)  # float64's products cost twice as much


@pytest.mark.parametrize("module_name", ["reference", "numba"])
def test_a_gradient_of_the_wrong_shape_is_refused(module_name):
    module = ref if module_name == "reference" else fast_module()
    x, w, _, gy = random_layer(2, 3, 4, 6, 6, 1, seed=0)
    wrong = gy[:, :, :-1]  # (2, 4, 5, 6), not the output's (2, 4, 6, 6)
    for call in (
        lambda: module.winograd_conv2d_backward_input(wrong, w, 1, x.shape),
        lambda: module.winograd_conv2d_backward_weight(x, wrong, 1),
    ):
        with pytest.raises(ValueError, match=r"upstream gradient has shape \(2, 4, 5, 6\)"):
            call()


# --------------------------------------------------------------------------- inside conv2d


@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_runs_winograd_where_chosen_and_matches_the_reference(monkeypatch, padding, dtype):
    """conv2d's fast path computes 3x3 stride-1 layers with Winograd when the setting says so,
    forward and all three gradients equal to the im2col reference (float32: within the bound)."""
    rng = np.random.default_rng(padding)
    x_values = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w_values = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b_values = rng.standard_normal(4).astype(dtype)
    gy = None
    results = {}
    for mode in ("on", "off", "reference"):
        monkeypatch.setenv("SCRATCHNET_WINOGRAD", "off" if mode == "reference" else mode)
        x, w, b = (sn.tensor(v, requires_grad=True) for v in (x_values, w_values, b_values))
        if mode == "reference":
            with reference_kernels():
                y = F.conv2d(x, w, b, padding=padding)
        else:
            y = F.conv2d(x, w, b, padding=padding)
            assert y.creator.algorithm == ("winograd" if mode == "on" else "im2col")
        gy = rng.standard_normal(y.shape).astype(dtype) if gy is None else gy
        y.backward(sn.tensor(gy))
        results[mode] = [y.array, x.grad.array, w.grad.array, b.grad.array]
    tolerance = 1e-10 if dtype == np.float64 else 16 * np.finfo(np.float32).eps
    for fast in ("on", "off"):
        for got, want in zip(results[fast], results["reference"], strict=True):
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * scale)


def test_conv2d_auto_picks_winograd_only_where_the_rule_says(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_WINOGRAD", raising=False)
    w = sn.zeros(16, 16, 3, 3, dtype=sn.float64)
    x = sn.zeros(1, 16, 28, 28, dtype=sn.float64, requires_grad=True)  # float64: Winograd
    assert F.conv2d(x, w, padding=1).creator.algorithm == "winograd"
    x = sn.zeros(1, 16, 28, 28, requires_grad=True)  # float32: im2col (2-thread steps)
    assert F.conv2d(x, w.float(), padding=1).creator.algorithm == "im2col"
    x = sn.zeros(1, 16, 28, 28, dtype=sn.float64, requires_grad=True)  # stride 2: cannot
    assert F.conv2d(x, w, padding=1, stride=2).creator.algorithm == "im2col"
