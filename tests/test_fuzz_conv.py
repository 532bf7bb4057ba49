"""Property tests for the convolution and pooling ops and layers and for the IDX
reader: random shapes (0 and 1 included), kernels, strides, paddings, dtypes and
views, NaN/Inf, random and mutated IDX bytes. Each case matches the NumPy
reference or raises the documented exception (ValueError / TypeError); none
crashes or hangs.
"""

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastbp import nn, ops
from fastbp import reference as ref
from fastbp.data import load_idx
from support import idx_bytes, tolerance

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.sampled_from([np.float32, np.float64])
VIEWS = st.sampled_from(["plain", "reversed", "strided", "readonly"])
PAIR = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))
PADDING = st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))


def pair(v):
    return (v, v) if isinstance(v, int) else v


def view(arr: np.ndarray, kind: str) -> np.ndarray:
    """The same values through another memory layout."""
    if kind == "reversed":
        return np.ascontiguousarray(arr[::-1])[::-1]
    if kind == "strided":
        wide = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), arr.dtype) if arr.ndim else arr
        if arr.ndim:
            wide[..., ::2] = arr
            return wide[..., ::2]
        return arr
    if kind == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out
    return arr


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1 if size + 2 * p >= k else 0


def close(got, want, dtype, terms):
    tol = tolerance(dtype)
    scale = max(1, terms) * max(1.0, float(np.max(np.abs(want), initial=0)))
    np.testing.assert_allclose(got, want, rtol=tol["rtol"] * max(1, terms),
                               atol=tol["atol"] * scale, equal_nan=True)


@FUZZ
@given(n=st.integers(0, 3), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       oc=st.integers(1, 3), kernel=PAIR, stride=PAIR, padding=PADDING, dtype=FLOATS,
       layout=VIEWS, bias=st.booleans(), input_grad=st.booleans(), data=st.data())
def test_conv2d_matches_reference_or_raises(n, c, h, w, oc, kernel, stride, padding, dtype,
                                            layout, bias, input_grad, data):
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    x = data.draw(hnp.arrays(dtype, (n, c, h, w), elements=st.floats(-4, 4, width=32)))
    wt = data.draw(hnp.arrays(dtype, (oc, c, kh, kw), elements=st.floats(-4, 4, width=32)))
    b = np.linspace(-1, 1, oc).astype(dtype) if bias else None
    x, wt = view(x, layout), view(wt, layout)
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    if oh == 0 or ow == 0:
        with pytest.raises(ValueError, match="empty output|smaller than the kernel"):
            ops.conv2d_forward(x, wt, b, stride, padding)
        return
    y = ops.conv2d_forward(x, wt, b, stride, padding)
    close(y, ref.conv2d_forward(x, wt, b, stride, padding), dtype, c * kh * kw)
    dout = data.draw(hnp.arrays(dtype, y.shape, elements=st.floats(-4, 4, width=32)))
    got = ops.conv2d_backward(dout, x, wt, stride, padding, input_grad=input_grad)
    want = ref.conv2d_backward(dout, x, wt, stride, padding, input_grad=input_grad)
    assert (got[0] is None) == (not input_grad)
    if input_grad:
        close(got[0], want[0], dtype, oc * kh * kw)
    close(got[1], want[1], dtype, n * oh * ow)
    close(got[2], want[2], dtype, n * oh * ow)


@FUZZ
@given(value=st.one_of(st.integers(-2, 0), st.tuples(st.integers(-2, 3), st.integers(-2, 0)),
                       st.just((1, 2, 3)), st.just("3"), st.just(2.5), st.just(2**62)),
       which=st.sampled_from(["kernel", "stride", "padding"]))
def test_bad_conv_and_pool_arguments_raise(value, which):
    """Kernels and strides below 1, negative paddings, wrong types and a padding or
    kernel too large for 64-bit sizes raise; a huge stride is merely one window."""
    x = np.ones((1, 1, 5, 5), np.float32)
    w = np.ones((1, 1, 2, 2), np.float32)
    items = value if isinstance(value, tuple) else (value, value)
    ints = len(items) == 2 and all(type(v) is int for v in items)
    if which == "stride" and ints and min(items) >= 1:
        assert ops.conv2d_forward(x, w, None, value, 0).shape == (1, 1, 1, 1)
        return
    if which == "padding" and ints and 0 <= min(items) and max(items) < 2**62:
        ops.conv2d_forward(x, w, None, 1, value)
        return
    with pytest.raises((ValueError, TypeError, OverflowError)):
        if which == "kernel":
            ops.max_pool2d_forward(x, value)
        elif which == "stride":
            ops.conv2d_forward(x, w, None, value, 0)
        else:
            ops.conv2d_forward(x, w, None, 1, value)


@FUZZ
@given(n=st.integers(0, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 20),
       kernel=PAIR, stride=st.one_of(st.none(), PAIR), dtype=FLOATS, layout=VIEWS,
       specials=st.booleans(), data=st.data())
def test_pools_match_reference_or_raise(n, c, h, w, kernel, stride, dtype, layout, specials,
                                        data):
    (kh, kw) = pair(kernel)
    (sh, sw) = (kh, kw) if stride is None else pair(stride)
    elements = st.floats(allow_nan=True, allow_infinity=True, width=32) if specials else \
        st.integers(-3, 3).map(float)  # many ties
    x = view(data.draw(hnp.arrays(dtype, (n, c, h, w), elements=elements)), layout)
    oh, ow = out_size(h, kh, sh, 0), out_size(w, kw, sw, 0)
    if oh == 0 or ow == 0:
        for op in (ops.max_pool2d_forward, ops.relu_max_pool2d_forward, ops.avg_pool2d_forward):
            with pytest.raises(ValueError):
                op(x, kernel, stride)
        return
    y, argmax = ops.max_pool2d_forward(x, kernel, stride)
    y_ref, argmax_ref = ref.max_pool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    finite = np.isfinite(x).all()
    dout = data.draw(hnp.arrays(dtype, y.shape, elements=st.floats(-4, 4, width=32)))
    close(ops.max_pool2d_backward(dout, argmax, x.shape),
          ref.max_pool2d_backward(dout, argmax, x.shape), dtype, kh * kw)
    y_fused, argmax_fused = ops.relu_max_pool2d_forward(x, kernel, stride)
    y_fused_ref, argmax_fused_ref = ref.relu_max_pool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y_fused, y_fused_ref)
    np.testing.assert_array_equal(argmax_fused, argmax_fused_ref)
    close(ops.relu_max_pool2d_backward(dout, argmax_fused, y_fused, x.shape),
          ref.relu_max_pool2d_backward(dout, argmax_fused, y_fused, x.shape), dtype, kh * kw)
    if finite:
        close(ops.avg_pool2d_forward(x, kernel, stride), ref.avg_pool2d_forward(x, kernel, stride),
              dtype, kh * kw)
    close(ops.avg_pool2d_backward(dout, x.shape, kernel, stride),
          ref.avg_pool2d_backward(dout, x.shape, kernel, stride), dtype, kh * kw)


@FUZZ
@given(shift=st.integers(-100, 100), data=st.data())
def test_max_pool_backward_rejects_indices_outside_x(shift, data):
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    y, argmax = ops.max_pool2d_forward(x, 2)
    bad = argmax.copy()
    where = data.draw(st.integers(0, bad.size - 1))
    bad.flat[where] = x.size + shift if shift >= 0 else shift
    with pytest.raises(ValueError, match="outside"):
        ops.max_pool2d_backward(y, bad, x.shape)


@FUZZ
@given(n=st.integers(0, 3), c=st.integers(1, 3), hw=st.integers(2, 8),
       wrong_channels=st.booleans(), dtype=FLOATS, data=st.data())
def test_conv_layers_match_reference_or_raise(n, c, hw, wrong_channels, dtype, data):
    conv = nn.Conv2d(c, 2, 2, padding=1, dtype=dtype, rng=0)
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(1), nn.Flatten())
    channels = c + 1 if wrong_channels else c
    x = data.draw(hnp.arrays(dtype, (n, channels, hw, hw), elements=st.floats(-4, 4, width=32)))
    if wrong_channels:
        with pytest.raises(ValueError, match="channels"):
            net(x)
        return
    y = net(x)
    c_ref = ref.conv2d_forward(x, conv.weight.data, conv.bias.data, 1, 1)
    pooled, argmax = ref.max_pool2d_forward(ref.relu_forward(c_ref), 2)
    close(y, pooled.reshape(n, int(np.prod(pooled.shape[1:]))), dtype, c * 4)
    dout = data.draw(hnp.arrays(dtype, y.shape, elements=st.floats(-4, 4, width=32)))
    dx = net.backward(dout)
    d_relu = ref.max_pool2d_backward(dout.reshape(pooled.shape), argmax, c_ref.shape)
    want_dx, want_dw, _ = ref.conv2d_backward(ref.relu_backward(d_relu, c_ref), x,
                                              conv.weight.data, 1, 1)
    close(dx, want_dx, dtype, 2 * 4)
    close(conv.weight.grad, want_dw, dtype, max(1, n) * (hw + 1) ** 2)


@FUZZ
@given(raw=st.binary(max_size=64), gz=st.booleans())
def test_load_idx_random_bytes(tmp_path_factory, raw, gz):
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    try:
        arr = load_idx(path)
    except ValueError:
        return
    assert arr.size * arr.itemsize <= len(raw)  # never more data than the file holds


@FUZZ
@given(cut=st.integers(0, 40), flip=st.integers(0, 39), value=st.integers(0, 255),
       gz=st.booleans())
def test_load_idx_mutated_file(tmp_path_factory, cut, flip, value, gz):
    good = idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4))  # 4 + 12 + 48 bytes
    broken = bytearray(good)
    broken[flip] = value
    broken = bytes(broken)[: len(good) - cut]
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(gzip.compress(broken) if gz else broken)
    try:
        arr = load_idx(path)
    except ValueError:
        assert broken != good
        return
    # Accepted: the header must describe exactly the bytes that follow it.
    assert 4 + 4 * arr.ndim + arr.size * arr.itemsize == len(broken)
