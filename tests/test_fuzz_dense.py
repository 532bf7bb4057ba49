"""Property tests: random arrays through the dense ops either match the NumPy
reference or raise the documented exception; nothing crashes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastbp import ops
from fastbp import reference as ref
from support import tolerance

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.sampled_from([np.float32, np.float64])
ANY_DTYPE = st.sampled_from(
    [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64]
)


@st.composite
def float_arrays(draw, dtype=None, shape=None, max_dims=3):
    """Arrays with NaN/Inf allowed, sometimes as strided, reversed or read-only views."""
    dtype = dtype or draw(FLOATS)
    shape = shape or draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=9))
    elements = st.floats(allow_nan=True, allow_infinity=True, width=32)
    view = draw(st.sampled_from(["plain", "reversed", "strided", "readonly"]))
    if view == "strided":  # take every other row of a twice-as-tall array
        base = draw(hnp.arrays(dtype, (2 * shape[0],) + tuple(shape[1:]), elements=elements))
        arr = base[::2]
    else:
        arr = draw(hnp.arrays(dtype, shape, elements=elements))
        if view == "reversed":
            arr = arr[::-1]
        elif view == "readonly":
            arr.flags.writeable = False
    return arr


def assert_same(got, want):
    np.testing.assert_allclose(got, want, equal_nan=True, **tolerance(got.dtype))


def moderate(*arrays) -> bool:
    """True when sums of products cannot overflow, so summation order cannot
    turn an inf into a NaN and the results are comparable."""
    return all(np.all(np.abs(a) < 1e6) for a in arrays)  # False for NaN and Inf


def assert_close_products(got, want, a, b, k, offset=None):
    """Compare sums of k products (plus an optional offset array) within the
    classic bound (k * max|a| * max|b| + max|offset|) * eps."""
    eps = np.finfo(got.dtype).eps
    scale = max(k, 1) * float(np.max(np.abs(a), initial=0)) * float(np.max(np.abs(b), initial=0))
    if offset is not None:
        scale += float(np.max(np.abs(offset), initial=0))
    np.testing.assert_allclose(got, want, rtol=8 * eps, atol=4 * eps * scale + 1e-30)


@FUZZ
@given(x=float_arrays(), name=st.sampled_from(["relu", "leaky_relu", "sigmoid", "tanh"]))
def test_activations_match_reference(x, name):
    with np.errstate(all="ignore"):
        y = getattr(ops, f"{name}_forward")(x)
        assert_same(y, getattr(ref, f"{name}_forward")(x))
        saved = y if name in ("sigmoid", "tanh") else x
        dout = np.ones_like(x)
        assert_same(getattr(ops, f"{name}_backward")(dout, saved),
                    getattr(ref, f"{name}_backward")(dout, saved))


@FUZZ
@given(dtype=ANY_DTYPE, shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
def test_any_dtype_is_accepted_or_a_type_error(dtype, shape):
    x = np.zeros(shape, dtype)
    if dtype in (np.float32, np.float64):
        assert ops.relu_forward(x).shape == shape
    else:
        with pytest.raises(TypeError, match="x must be float32 or float64"):
            ops.relu_forward(x)


@FUZZ
@given(
    n=st.integers(0, 12), d=st.integers(0, 12), m=st.integers(0, 12),
    dtype=FLOATS, data=st.data(),
)
def test_linear_matches_reference(n, d, m, dtype, data):
    x = data.draw(float_arrays(dtype, (n, d)))
    w = data.draw(float_arrays(dtype, (d, m)))
    b = data.draw(float_arrays(dtype, (m,)))
    dout = data.draw(float_arrays(dtype, (n, m)))
    with np.errstate(all="ignore"):
        y = ops.linear_forward(x, w, b)
        grads = ops.linear_backward(dout, x, w)
        assert y.shape == (n, m) and [g.shape for g in grads] == [(n, d), (d, m), (m,)]
        if moderate(x, w, b, dout):
            assert_close_products(y, ref.linear_forward(x, w, b), x, w, d, offset=b)
            dx, dw, db = ref.linear_backward(dout, x, w)
            assert_close_products(grads[0], dx, dout, w, m)
            assert_close_products(grads[1], dw, x, dout, n)
            assert_close_products(grads[2], db, dout, np.ones(1, dtype), n)


@FUZZ
@given(
    x_shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
    w_shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
)
def test_linear_shape_mismatch_is_a_value_error(x_shape, w_shape):
    x, w = np.ones(x_shape), np.ones(w_shape)
    if len(x_shape) == 2 and len(w_shape) == 2 and x_shape[1] == w_shape[0]:
        assert ops.linear_forward(x, w, None).shape == (x_shape[0], w_shape[1])
    else:
        with pytest.raises(ValueError):
            ops.linear_forward(x, w, None)


@FUZZ
@given(
    n=st.integers(0, 8), c=st.integers(0, 6),
    labels=st.lists(st.integers(-(2**62), 2**62), min_size=0, max_size=9), data=st.data(),
)
def test_softmax_cross_entropy_labels(n, c, labels, data):
    scores = data.draw(float_arrays(shape=(n, c)))
    labels = np.array(labels, dtype=np.int64)
    valid = n > 0 and c > 0 and labels.shape == (n,) and np.all((labels >= 0) & (labels < c))
    if not valid:
        with pytest.raises(ValueError):
            ops.softmax_cross_entropy(scores, labels)
        return
    with np.errstate(all="ignore"):
        loss, dscores = ops.softmax_cross_entropy(scores, labels)
        loss_ref, dscores_ref = ref.softmax_cross_entropy(scores, labels)
    if np.all(np.isfinite(scores)):
        assert loss == pytest.approx(loss_ref, rel=1e-4, abs=1e-5)
        assert_same(dscores, dscores_ref)


@FUZZ
@given(m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(0, 40),
       trans_a=st.booleans(), trans_b=st.booleans(), dtype=FLOATS, data=st.data())
def test_gemm_matches_reference(m, k, n, trans_a, trans_b, dtype, data):
    a = data.draw(float_arrays(dtype, (k, m) if trans_a else (m, k)))
    b = data.draw(float_arrays(dtype, (n, k) if trans_b else (k, n)))
    with np.errstate(all="ignore"):
        got = ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
        want = ref.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.shape == (m, n) and got.dtype == dtype
    if moderate(a, b):
        assert_close_products(got, want, a, b, k)
