"""Convolution and pooling: parity with the NumPy reference and PyTorch, gradient
checks, im2col/col2im adjointness, thread-count determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from support import num_threads, ticks_during, tolerance

import fastbp
from fastbp import ops
from fastbp import reference as ref

# (N, C, H, W, OC, kernel, stride, padding): odd sizes, rectangular kernels, strides > 1,
# padding >= kernel / 2 (even >= kernel), pairs and ints mixed.
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 1),
    (3, 2, 9, 6, 5, (3, 2), (2, 1), (1, 0)),
    (1, 4, 5, 8, 3, (2, 4), 2, (2, 3)),
    (2, 1, 6, 5, 2, 1, 1, 0),  # pointwise: no im2col
    (2, 2, 4, 5, 3, 1, 2, 1),
    (2, 3, 11, 10, 6, 5, 3, 2),
    (4, 2, 3, 3, 2, 3, 1, 3),  # padding = kernel: outputs that see only padding
    (1, 5, 8, 7, 7, (5, 1), (1, 3), (0, 2)),
    (2, 2, 2, 2, 3, 4, 1, 1),  # kernel larger than the image
]
POOL_CASES = [  # (N, C, H, W, kernel, stride)
    (2, 3, 8, 8, 2, None),
    (2, 2, 9, 7, 3, 2),  # overlapping windows
    (1, 3, 7, 10, (2, 3), (1, 2)),
    (3, 1, 5, 5, 5, 1),
    (2, 2, 6, 9, (3, 1), None),
    (1, 2, 4, 4, 1, 3),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _close(actual, expected, dtype, terms=1):
    """Compare with the reference; atol grows like sqrt(terms) for sums of `terms` products."""
    assert actual.dtype == np.dtype(dtype)
    assert actual.shape == expected.shape
    tol = tolerance(dtype)
    np.testing.assert_allclose(
        actual, expected, rtol=tol["rtol"], atol=tol["atol"] * 4 * max(1.0, terms) ** 0.5
    )


def _conv_data(rng, case, dtype):
    N, C, H, W, OC, k, s, p = case
    KH, KW = _pair(k)
    x = _rand(rng, (N, C, H, W), dtype)
    w = _rand(rng, (OC, C, KH, KW), dtype)
    b = _rand(rng, (OC,), dtype)
    return x, w, b, s, p


# --- parity with the reference ----------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_col2im_match_reference(rng, dtype, case):
    x, w, _, s, p = _conv_data(rng, case, dtype)
    k = w.shape[2:]
    cols = ops.im2col(x, k, s, p)
    np.testing.assert_array_equal(cols, ref.im2col(x, k, s, p))  # pure data movement
    assert cols.dtype == np.dtype(dtype)
    c = _rand(rng, cols.shape, dtype)
    _close(ops.col2im(c, x.shape, k, s, p), ref.col2im(c, x.shape, k, s, p), dtype, k[0] * k[1])


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_reference(rng, dtype, case, bias):
    x, w, b, s, p = _conv_data(rng, case, dtype)
    b = b if bias else None
    OC, C, KH, KW = w.shape
    y = ops.conv2d_forward(x, w, b, s, p)
    _close(y, ref.conv2d_forward(x, w, b, s, p), dtype, C * KH * KW)
    dout = _rand(rng, y.shape, dtype)
    got = ops.conv2d_backward(dout, x, w, s, p)
    want = ref.conv2d_backward(dout, x, w, s, p)
    P = y.shape[2] * y.shape[3]
    for g, e, terms in zip(got, want, (OC * KH * KW, x.shape[0] * P, x.shape[0] * P)):
        _close(g, e, dtype, terms)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward_without_input_grad(rng, dtype, case):
    """input_grad=False skips dx; dw and db are the very same bits."""
    x, w, _, s, p = _conv_data(rng, case, dtype)
    dout = _rand(rng, ops.conv2d_forward(x, w, None, s, p).shape, dtype)
    dx, dw, db = ops.conv2d_backward(dout, x, w, s, p)
    none, dw_only, db_only = ops.conv2d_backward(dout, x, w, s, p, input_grad=False)
    assert none is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)
    ref_none, ref_dw, _ = ref.conv2d_backward(dout, x, w, s, p, input_grad=False)
    assert ref_none is None
    _close(dw_only, ref_dw, dtype, x.shape[0] * dout.shape[2] * dout.shape[3])


# Stride 1 along rows and small samples: float32 runs the direct kernels (forward, dw, and
# dx as a convolution of dout for stride 1). Filter counts around the tiles' filters (AVX2:
# 3, 4, 6, 8; AVX-512: 4, 6, 8, 12, 16), widths around their 8- and 16-pixel vectors, tap
# counts around the dw tiles' 3 and 6 taps, row strides and padding.
DIRECT_CASES = [  # (N, C, H, W, OC, kernel, stride, padding)
    (3, 1, 28, 28, 30, 5, 1, 0),  # SimpleConvNet's first layer
    (2, 3, 9, 9, 5, 3, 1, 1),
    (2, 1, 5, 12, 1, (1, 5), (2, 1), 0),  # OW = 8: one full vector
    (2, 3, 6, 16, 5, 3, 1, 1),  # OW = 16: rows of two whole vectors (the unrolled dw rows)
    (2, 2, 4, 34, 6, 3, 1, 0),  # OW = 32: four whole vectors
    (1, 2, 6, 32, 7, 2, (3, 1), (1, 0)),  # OW = 31
    (5, 1, 4, 4, 2, 3, 1, 0),  # OW = 2: one partial vector
    (2, 4, 3, 40, 3, (1, 2), 1, (0, 1)),  # OW = 41, 8 taps
    (1, 1, 3, 3, 9, 1, 1, 0),  # pointwise
    (33, 2, 4, 26, 4, 2, 1, 0),  # several chunks of samples in the weight gradient
    (2, 2, 7, 20, 3, 3, 1, (2, 0)),  # dx with the flipped filters: dout padded by (0, 2)
    (1, 2, 5, 20, 3, 3, 1, (3, 1)),  # padding past the kernel: dx by GEMM + col2im
    (2, 3, 6, 16, 17, 3, 1, 1),  # OW = 16: one whole 16-pixel vector, 16 filters + 1
    (2, 3, 5, 34, 13, 3, 1, 0),  # OW = 32: two 16-pixel vectors, 12 filters + 1
    (2, 2, 4, 19, 5, 3, 1, 0),  # OW = 17: a 16-pixel vector and a 1-pixel tail
    (1, 2, 3, 51, 9, 3, 1, 0),  # OW = 49: four vectors of 16 (the last of 1), 6 filters + 3
    (1, 1, 3, 102, 7, 3, 1, 0),  # OW = 100: seven vectors of 16, tiles of 4 and 3
]


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_direct_convolution_matches_reference(rng, case):
    N, C, H, W, OC, k, s, p = case
    x = _rand(rng, (N, C, H, W), np.float32)
    w = _rand(rng, (OC, C) + _pair(k), np.float32)
    b = _rand(rng, (OC,), np.float32)
    y = ops.conv2d_forward(x, w, b, s, p)
    ckk = w[0].size
    _close(y, ref.conv2d_forward(x, w, b, s, p), np.float32, ckk)
    _close(ops.conv2d_forward(x, w, None, s, p), ref.conv2d_forward(x, w, None, s, p),
           np.float32, ckk)
    dout = _rand(rng, y.shape, np.float32)
    dx, dw, db = ops.conv2d_backward(dout, x, w, s, p)
    want_dx, want_dw, want_db = ref.conv2d_backward(dout, x, w, s, p)
    _close(dx, want_dx, np.float32, OC * ckk)
    _close(dw, want_dw, np.float32, N * y.shape[2] * y.shape[3])
    _close(db, want_db, np.float32, N * y.shape[2] * y.shape[3])
    none, dw_only, db_only = ops.conv2d_backward(dout, x, w, s, p, input_grad=False)
    assert none is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


# 3x3, stride 1, at least 16 channels in and out: float32 runs Winograd F(2x2, 3x3) (forward,
# dw, and dx as a forward of dout). Odd sizes leave part of the last 2x2 tile of a row or
# column outside; tile rows beyond 8 tiles, images of several blocks of tile rows, channel
# counts that are not multiples of the GEMM tile's rows or columns (AVX2 6 x 16, AVX-512
# 12 x 32), rows of tiles around the 16 that one AVX-512 vector transforms together, image
# rows with and without a tail past a multiple of 16 floats.
WINOGRAD_CASES = [  # (N, C, H, W, OC, padding)
    (2, 16, 16, 16, 16, 1),
    (3, 17, 7, 9, 20, 1),  # odd height and width
    (2, 32, 5, 13, 18, 0),  # no padding
    (1, 16, 3, 3, 16, 2),  # padding 2: dx with unpadded dout
    (2, 16, 1, 1, 16, 1),  # one pixel
    (2, 16, 6, 21, 16, (3, 1)),  # padding past the kernel: dx by GEMM + col2im
    (33, 16, 4, 4, 16, 1),  # several chunks of samples in the weight gradient
    (1, 16, 40, 37, 24, 1),  # several blocks of tile rows, 19 tiles per row
    (2, 20, 9, 40, 64, (1, 0)),  # 20 tiles per row, unequal padding
    (1, 32, 24, 64, 32, 1),  # one sample in 6 blocks of tile rows, threaded by block
    (2, 25, 11, 60, 33, 1),  # 15 forward tiles a row, 30 dw tiles; 25 -> 33 channels
    (1, 33, 9, 68, 24, 1),  # 17 forward tiles a row (quads across rows), 34 dw tiles
    (2, 24, 6, 32, 25, 1),  # 16 dw tiles a row, rows of whole vectors; 24 -> 25 channels
    (1, 16, 10, 34, 16, 1),  # 17 dw tiles a row, 9 forward tiles
]


@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_convolution_matches_reference(rng, case):
    N, C, H, W, OC, p = case
    x = _rand(rng, (N, C, H, W), np.float32)
    w = _rand(rng, (OC, C, 3, 3), np.float32)
    b = _rand(rng, (OC,), np.float32)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    y = ops.conv2d_forward(x, w, b, 1, p)
    _close(y, ref.conv2d_forward(x64, w64, b64, 1, p).astype(np.float32), np.float32, C * 9)
    dout = _rand(rng, y.shape, np.float32)
    dx, dw, db = ops.conv2d_backward(dout, x, w, 1, p)
    want = ref.conv2d_backward(dout.astype(np.float64), x64, w64, 1, p)
    P = y.shape[2] * y.shape[3]
    for got, expected, terms in zip((dx, dw, db), want, (OC * 9, N * P, N * P)):
        _close(got, expected.astype(np.float32), np.float32, terms)
    none, dw_only, db_only = ops.conv2d_backward(dout, x, w, 1, p, input_grad=False)
    assert none is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


@pytest.mark.parametrize("channels, winograd", [((16, 16), True), ((15, 16), False),
                                                ((16, 15), False), ((16, 16, 2), False)])
def test_winograd_runs_exactly_where_documented(rng, channels, winograd):
    """Small integers sum exactly in float32 in any direct order, while F(4x4, 3x3)'s
    transforms (1/6, 1/24) round: an inexact forward shows that Winograd ran, an exact one
    that it did not (3x3, stride 1, >= 16 channels in and out, an x86 context: only avx2 and
    avx512 have Winograd kernels; generic and neon sum directly)."""
    C, OC, stride = channels if len(channels) == 3 else (*channels, 1)
    x = rng.integers(-2, 3, size=(2, C, 8, 8)).astype(np.float32)
    w = rng.integers(-1, 2, size=(OC, C, 3, 3)).astype(np.float32)
    y = ops.conv2d_forward(x, w, None, stride, 1)
    exact = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, stride, 1)
    ran_winograd = winograd and fastbp.build_info()["isa"] in ("avx2", "avx512")
    assert np.array_equal(y, exact) != ran_winograd
    _close(y, exact.astype(np.float32), np.float32, C * 9)


@pytest.mark.parametrize("case", [  # (N, C, H, W, OC, kernel, stride, padding, pool, pool stride)
    (5, 1, 28, 28, 30, 5, 1, 0, 2, None),  # SimpleConvNet's block, direct kernel
    (3, 16, 9, 12, 18, 3, 1, 1, 2, None),  # Winograd
    (3, 2, 9, 11, 5, 3, 1, 1, 2, None),
    (2, 3, 10, 10, 4, 3, 2, 1, 3, 2),  # row stride 2: im2col + GEMM; overlapping windows
    (4, 2, 6, 34, 7, (1, 3), 1, (0, 1), 2, None),
    (1, 1, 5, 5, 3, 1, 1, 0, (2, 3), 1),
])
def test_conv_relu_max_pool_is_bitwise_the_unfused_ops(rng, dtype, case):
    """conv2d_relu_max_pool2d_forward / _backward against the convolution and the fused
    ReLU + pooling ops called one after the other, and against their NumPy twins."""
    N, C, H, W, OC, k, s, p, pk, ps = case
    # Small integers give ties and zeros in the output, and sums that are exact in any order;
    # not by Winograd F(4x4, 3x3) (float32 with 16 channels), whose transforms hold 1/6 and
    # 1/24: there random normal data, compared with the reference within rounding.
    exact = not (dtype == np.float32 and k == 3 and s == 1 and C >= 16 and OC >= 16)
    if exact:
        x = rng.integers(-2, 3, size=(N, C, H, W)).astype(dtype)
        w = rng.integers(-1, 2, size=(OC, C) + _pair(k)).astype(dtype)
        b = rng.integers(-1, 2, size=OC).astype(dtype)
    else:
        x, w, b = _rand(rng, (N, C, H, W), dtype), _rand(rng, (OC, C, k, k), dtype), _rand(
            rng, (OC,), dtype)

    def like_reference(got, want, terms):
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            _close(got, want, dtype, terms)

    y, argmax = ops.conv2d_relu_max_pool2d_forward(x, w, b, s, p, pk, ps)
    want_y, want_argmax = ops.relu_max_pool2d_forward(ops.conv2d_forward(x, w, b, s, p), pk, ps)
    _same_bits(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)
    y_ref, argmax_ref = ref.conv2d_relu_max_pool2d_forward(x, w, b, s, p, pk, ps)
    like_reference(y, y_ref, w[0].size)
    np.testing.assert_array_equal(argmax, argmax_ref)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward"):
        ops.conv2d_relu_max_pool2d_forward(x, w, b, s, p, 64)  # pool larger than the output
    # backward: bitwise the unfused ops, with and without dx; indices that leave their
    # planes take the whole-gradient path, which must agree too
    dout = rng.integers(-2, 3, size=y.shape).astype(dtype) if exact else _rand(rng, y.shape, dtype)
    c_shape = ops.conv2d_forward(x, w, b, s, p).shape
    moved = argmax.copy()
    moved.flat[0] = argmax.flat[-1]  # the last plane's maximum, from the first window
    for am in (argmax, moved):
        for input_grad in (True, False):
            got = ops.conv2d_relu_max_pool2d_backward(dout, am, y, x, w, s, p,
                                                      input_grad=input_grad)
            d_conv = ops.relu_max_pool2d_backward(dout, am, y, c_shape)
            want = ops.conv2d_backward(d_conv, x, w, s, p, input_grad=input_grad)
            for g_, w_ in zip(got, want):
                assert (g_ is None) == (w_ is None)
                if g_ is not None:
                    _same_bits(g_, w_)
    got = ops.conv2d_relu_max_pool2d_backward(dout, argmax, y, x, w, s, p)
    want = ref.conv2d_relu_max_pool2d_backward(dout, argmax, y, x, w, s, p)
    for g_, w_, terms in zip(got, want, (OC * w[0, 0].size, N * H * W, N * H * W)):
        like_reference(g_, w_, terms)
    with pytest.raises(ValueError, match="outside"):
        ops.conv2d_relu_max_pool2d_backward(dout, argmax + int(np.prod(c_shape)), y, x, w, s, p)
    with pytest.raises(ValueError, match="shape"):
        ops.conv2d_relu_max_pool2d_backward(dout, argmax, y[:, :1], x, w, s, p)


@pytest.mark.parametrize("width", [9, 17])
def test_direct_kernels_ignore_pixels_past_the_row(rng, width):
    """The direct kernels read rows in vectors of 8 (AVX2) or 16 (AVX-512) pixels: with
    OW = 9 or 17, the lanes past the last output of a row reach into the next image row.
    With a row stride of 2 that row is skipped, so its infinities must reach neither y nor
    dw (0 * Inf is NaN)."""
    x = rng.standard_normal((1, 1, 3, width)).astype(np.float32)
    x[0, 0, 1] = np.inf  # the skipped row
    w = rng.standard_normal((2, 1, 1, 1)).astype(np.float32)
    y = ops.conv2d_forward(x, w, None, (2, 1), 0)
    assert y.shape == (1, 2, 2, width) and np.isfinite(y).all()
    _close(y, ref.conv2d_forward(x, w, None, (2, 1), 0), np.float32)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    _, dw, _ = ops.conv2d_backward(dout, x, w, (2, 1), 0, input_grad=False)
    assert np.isfinite(dw).all()
    _close(dw, ref.conv2d_backward(dout, x, w, (2, 1), 0, input_grad=False)[1], np.float32,
           2 * width)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pools_match_reference(rng, dtype, case):
    N, C, H, W, k, s = case
    x = _rand(rng, (N, C, H, W), dtype)
    y, argmax = ops.max_pool2d_forward(x, k, s)
    y_ref, argmax_ref = ref.max_pool2d_forward(x, k, s)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    assert argmax.dtype == np.int64 and y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.ravel()[argmax], y)  # indices into the whole of x
    dout = _rand(rng, y.shape, dtype)
    kh, kw = _pair(k)
    _close(ops.max_pool2d_backward(dout, argmax, x.shape),
           ref.max_pool2d_backward(dout, argmax, x.shape), dtype, kh * kw)
    _close(ops.avg_pool2d_forward(x, k, s), ref.avg_pool2d_forward(x, k, s), dtype, kh * kw)
    _close(ops.avg_pool2d_backward(dout, x.shape, k, s),
           ref.avg_pool2d_backward(dout, x.shape, k, s), dtype, kh * kw)


def test_pool_stride_defaults_to_kernel(rng):
    x = rng.standard_normal((2, 2, 7, 9))
    y, a = ops.max_pool2d_forward(x, (3, 2))
    y2, a2 = ops.max_pool2d_forward(x, (3, 2), (3, 2))
    assert y.shape == (2, 2, 2, 4)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(ops.avg_pool2d_forward(x, 2), ops.avg_pool2d_forward(x, 2, 2))


def test_max_pool_nan_propagates_like_reference():
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x[0, 0, 1, 0] = np.nan
    x[0, 1, 3, 3] = np.nan
    y, a = ops.max_pool2d_forward(x, 2)
    y_ref, a_ref = ref.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(y, y_ref)  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(a, a_ref)
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 1, 1, 1])


@pytest.mark.parametrize("width", [14, 15, 16, 17, 30, 32, 33, 34, 35, 40, 66, 67])
def test_max_pool_2x2_vector_rows_match_reference(rng, width):
    """The 2x2 stride-2 float32 rows run eight (AVX2) or sixteen (AVX-512) windows per
    step, the last group overlapping the one before, and rows shorter than that in
    portable code (OW = 7 .. 33 here); ties, infinities and NaNs must pick what the
    reference picks (the first maximum, the first NaN)."""
    x = rng.integers(-2, 3, size=(2, 3, 6, width)).astype(np.float32)  # many ties
    specials = np.array([np.nan, np.inf, -np.inf], np.float32)
    hits = rng.random(x.shape) < 0.15
    x[hits] = rng.choice(specials, size=int(hits.sum()))
    y, argmax = ops.max_pool2d_forward(x, 2)
    y_ref, argmax_ref = ref.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)


def test_max_pool_backward_arbitrary_argmax(rng, dtype):
    """Indices that jump across planes and repeat still add up (the one-thread path)."""
    dout = _rand(rng, (2, 3, 2, 2), dtype)
    argmax = rng.integers(0, 2 * 3 * 5 * 5, size=dout.shape)
    argmax[0, 0, 0, :] = 7  # repeated
    _close(ops.max_pool2d_backward(dout, argmax, (2, 3, 5, 5)),
           ref.max_pool2d_backward(dout, argmax, (2, 3, 5, 5)), dtype, 4)


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _with_specials(rng, shape, dtype):
    """Values with ties, signed zeros, infinities and NaNs: every branch of the fused
    ReLU's choice of the window's value."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], dtype)
    hits = rng.random(shape) < 0.3
    x[hits] = rng.choice(specials, size=int(hits.sum()))
    return x


@pytest.mark.parametrize("case", POOL_CASES + [(2, 3, 6, 17, 2, None), (1, 2, 24, 24, 2, 2),
                                  (2, 3, 4, 34, 2, None), (1, 2, 4, 67, 2, 2)])
def test_relu_max_pool_is_bitwise_the_unfused_pair(rng, dtype, case):
    """relu_max_pool2d_forward / _backward against ReLU then max pooling, run one op at
    a time, and against their NumPy twins."""
    N, C, H, W, k, s = case
    x = _with_specials(rng, (N, C, H, W), dtype)
    y, argmax = ops.relu_max_pool2d_forward(x, k, s)
    r = ops.relu_forward(x)
    y_unfused, argmax_unfused = ops.max_pool2d_forward(r, k, s)
    _same_bits(y, y_unfused)
    y_ref, argmax_ref = ref.relu_max_pool2d_forward(x, k, s)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    np.testing.assert_array_equal(argmax, ops.max_pool2d_forward(x, k, s)[1])  # x's own maxima
    dout = _with_specials(rng, y.shape, dtype)
    dx = ops.relu_max_pool2d_backward(dout, argmax, y, x.shape)
    _same_bits(dx, ops.relu_backward(ops.max_pool2d_backward(dout, argmax_unfused, x.shape), x))
    np.testing.assert_array_equal(dx, ref.relu_max_pool2d_backward(dout, argmax, y, x.shape))


@pytest.mark.parametrize("width", [8, 9, 16, 21, 32, 35, 40, 67])
def test_max_pool_2x2_backward_single_write(rng, dtype, width):
    """The 2x2 stride-2 backward writes each window's block once. It must equal the
    zero-fill-and-scatter of the reference bitwise (a dout of -0.0 lands as 0 + -0.0,
    +0.0), zero the row and column left over by an odd size, and fall back when an
    index lies outside its window's block."""
    x = _with_specials(rng, (2, 3, 7, width), dtype)
    y, argmax = ops.max_pool2d_forward(x, 2)
    dout = _rand(rng, y.shape, dtype)
    dout[0, 0, 0, :3] = -0.0
    _same_bits(ops.max_pool2d_backward(dout, argmax, x.shape),
               ref.max_pool2d_backward(dout, argmax, x.shape))
    moved = argmax.copy()
    moved[1, 2, 2, 3] = argmax[1, 2, 0, 0]  # same plane, another window's block: adds up
    moved[0, 1, 1, 1] += 2  # the next block along the row
    _same_bits(ops.max_pool2d_backward(dout, moved, x.shape),
               ref.max_pool2d_backward(dout, moved, x.shape))


def test_relu_max_pool_backward_checks_y(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    y, argmax = ops.relu_max_pool2d_forward(x, 2)
    with pytest.raises(ValueError, match="shape"):
        ops.relu_max_pool2d_backward(y, argmax, y[:, :, :1], x.shape)
    with pytest.raises(TypeError):
        ops.relu_max_pool2d_backward(y, argmax, y.astype(np.float32), x.shape)
    with pytest.raises(TypeError, match="y"):
        ops.relu_max_pool2d_backward(y, argmax, "y", x.shape)
    with pytest.raises(ValueError, match="outside"):
        ops.relu_max_pool2d_backward(y, argmax + x.size, y, x.shape)


def test_pair_arguments_and_numpy_ints(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    y = ops.conv2d_forward(x, w, None, 2, 1)
    np.testing.assert_array_equal(y, ops.conv2d_forward(x, w, None, (2, 2), [1, 1]))
    np.testing.assert_array_equal(y, ops.conv2d_forward(x, w, None, np.int64(2), np.int32(1)))


def test_strided_input_is_accepted(rng):
    base = rng.standard_normal((2, 3, 10, 12))
    x = base[:, :, ::2, 1::2]
    w = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(ops.conv2d_forward(x, w), ref.conv2d_forward(x, w), rtol=1e-12)


def test_empty_batch(rng):
    x = np.zeros((0, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    y = ops.conv2d_forward(x, w, None, 1, 1)
    assert y.shape == (0, 4, 5, 5)
    dx, dw, db = ops.conv2d_backward(y, x, w, 1, 1)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(4))


# --- im2col / col2im adjointness ----------------------------------------------


def _overlap_count(n, k, s, p, out):
    """count[i] = number of (o, kk) with o * s - p + kk == i, by brute force."""
    count = np.zeros(n)
    for o in range(out):
        for kk in range(k):
            i = o * s - p + kk
            if 0 <= i < n:
                count[i] += 1
    return count


@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_of_im2col_is_overlap_count_times_x(rng, case):
    x, w, _, s, p = _conv_data(rng, case, np.float64)
    (KH, KW), (SH, SW), (PH, PW) = w.shape[2:], _pair(s), _pair(p)
    H, W = x.shape[2:]
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    count = np.outer(_overlap_count(H, KH, SH, PH, OH), _overlap_count(W, KW, SW, PW, OW))
    back = ops.col2im(ops.im2col(x, (KH, KW), s, p), x.shape, (KH, KW), s, p)
    np.testing.assert_allclose(back, x * count, rtol=1e-13, atol=1e-13)


# --- gradient checks (float64, central differences) ----------------------------


def _numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize(
    "shape, k, s, p", [((2, 2, 5, 4), (3, 2), (2, 1), (1, 2)), ((1, 3, 4, 4), 3, 1, 1)]
)
def test_conv2d_gradients(rng, shape, k, s, p):
    KH, KW = _pair(k)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((3, shape[1], KH, KW))
    b = rng.standard_normal(3)
    G = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p).shape)

    def loss():
        return float(np.sum(ops.conv2d_forward(x, w, b, s, p) * G))

    dx, dw, db = ops.conv2d_backward(G, x, w, s, p)
    for analytic, param in ((dx, x), (dw, w), (db, b)):
        np.testing.assert_allclose(analytic, _numeric_grad(loss, param), rtol=1e-6, atol=1e-7)


def _distinct(rng, shape):
    """Values with no ties and gaps of at least 0.1: max pooling is differentiable there."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + 0.5


@pytest.mark.parametrize("k, s", [(2, None), (3, 2), ((2, 3), (1, 1))])
def test_max_pool_gradient(rng, k, s):
    x = _distinct(rng, (2, 2, 6, 7))
    y, argmax = ops.max_pool2d_forward(x, k, s)
    G = rng.standard_normal(y.shape)
    num = _numeric_grad(lambda: float(np.sum(ops.max_pool2d_forward(x, k, s)[0] * G)), x, 1e-4)
    np.testing.assert_allclose(ops.max_pool2d_backward(G, argmax, x.shape), num, atol=1e-8)


@pytest.mark.parametrize("k, s", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_avg_pool_gradient(rng, k, s):
    x = rng.standard_normal((2, 2, 6, 7))
    G = rng.standard_normal(ops.avg_pool2d_forward(x, k, s).shape)
    num = _numeric_grad(lambda: float(np.sum(ops.avg_pool2d_forward(x, k, s) * G)), x)
    np.testing.assert_allclose(ops.avg_pool2d_backward(G, x.shape, k, s), num, rtol=1e-6,
                               atol=1e-8)


# --- determinism across thread counts ------------------------------------------


def _all_outputs(rng, dtype, N):
    x = _rand(rng, (N, 8, 12, 11), dtype)
    w = _rand(rng, (8, 8, 3, 3), dtype)
    b = _rand(rng, (8,), dtype)
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dout = _rand(rng, y.shape, dtype)
    yp, am = ops.max_pool2d_forward(x, 3, 2)
    dp = _rand(rng, yp.shape, dtype)
    yr, amr = ops.relu_max_pool2d_forward(x, 2)
    dr = _rand(rng, yr.shape, dtype)
    yc, amc = ops.conv2d_relu_max_pool2d_forward(x, w, b, 1, 1, 2)
    dc = _rand(rng, yc.shape, dtype)
    cols = ops.im2col(x, 3, 2, 1)
    xw = _rand(rng, (N, 16, 7, 10), dtype)  # 16 channels: Winograd for float32
    ww = _rand(rng, (16, 16, 3, 3), dtype)
    yw = ops.conv2d_forward(xw, ww, None, 1, 1)
    xb = _rand(rng, (N, 32, 24, 64), dtype)  # Winograd in 6 blocks of tile rows per sample
    wb = _rand(rng, (32, 32, 3, 3), dtype)
    yb = ops.conv2d_forward(xb, wb, None, 1, 1)
    return [
        yw,
        *ops.conv2d_backward(_rand(rng, yw.shape, dtype), xw, ww, 1, 1),
        yb,
        *ops.conv2d_backward(_rand(rng, yb.shape, dtype), xb, wb, 1, 1),
        y,
        *ops.conv2d_backward(dout, x, w, 1, 1),
        *ops.conv2d_backward(dout[:, :, ::2, ::2].copy(), x, w, 2, 1),
        cols,
        ops.col2im(cols, x.shape, 3, 2, 1),
        yp,
        am,
        ops.max_pool2d_backward(dp, am, x.shape),
        ops.avg_pool2d_forward(x, 3, 2),
        ops.avg_pool2d_backward(dp, x.shape, 3, 2),
        yr,
        amr,
        ops.max_pool2d_backward(dr, amr, x.shape),
        ops.relu_max_pool2d_backward(dr, amr, yr, x.shape),
        yc,
        amc,
        *ops.conv2d_relu_max_pool2d_backward(dc, amc, yc, x, w, 1, 1),
    ]


@pytest.mark.parametrize("N", [1, 2, 5, 24, 70])  # one chunk, batch split, uneven, many chunks
def test_bitwise_identical_for_any_thread_count(dtype, N):
    results = []
    for threads in (1, 2, 3):
        with num_threads(threads):
            results.append(_all_outputs(np.random.default_rng(7), dtype, N))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


def test_gil_is_released_during_conv(rng):
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    dout = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    assert ticks_during(lambda: ops.conv2d_backward(dout, x, w, 1, 1)) > 0


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "ref"])
def test_bad_shapes_raise(mod):
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="4-D"):
        mod.conv2d_forward(x[0], w)
    mismatch = r"3 channels but w expects 2 \(x \(2, 3, 5, 5\), w \(4, 2, 3, 3\)\)"
    with pytest.raises(ValueError, match=mismatch):
        mod.conv2d_forward(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="empty output"):
        mod.conv2d_forward(x, np.zeros((4, 3, 7, 3)))
    with pytest.raises(ValueError, match="empty output"):
        mod.max_pool2d_forward(x, 6)
    with pytest.raises(ValueError, match="empty output"):
        mod.avg_pool2d_forward(x, (2, 6))
    with pytest.raises(ValueError, match="empty output"):
        mod.im2col(x, 8, 1, 1)
    with pytest.raises(ValueError, match="argmax"):
        mod.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.full((2, 3, 2, 2), 150), x.shape)
    with pytest.raises(ValueError, match="argmax"):
        mod.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.full((2, 3, 2, 2), -1), x.shape)
    with pytest.raises(ValueError, match="argmax"):
        mod.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 1), np.int64), x.shape)


def test_bad_arguments_raise_clear_errors():
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    y = ops.conv2d_forward(x, w)
    with pytest.raises(TypeError, match="same dtype"):
        ops.conv2d_forward(x, w.astype(np.float32))
    with pytest.raises(TypeError, match="x must be"):
        ops.conv2d_forward(x.astype(np.int32), w)
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        ops.conv2d_forward(x, w, np.zeros(3))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 3, 3\)"):
        ops.conv2d_backward(y[:, :3], x, w)
    with pytest.raises(ValueError, match="w must be 4-D"):
        ops.conv2d_backward(y, x, w[0])
    with pytest.raises(ValueError, match="stride must be >= 1"):
        ops.conv2d_forward(x, w, None, 0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        ops.conv2d_forward(x, w, None, 1, (0, -1))
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        ops.im2col(x, (0, 2))
    with pytest.raises(ValueError, match="pair"):
        ops.im2col(x, (1, 2, 3))
    with pytest.raises(TypeError, match="kernel_size"):
        ops.max_pool2d_forward(x, 1.5)
    with pytest.raises(TypeError, match="stride"):
        ops.avg_pool2d_forward(x, 2, True)
    with pytest.raises(ValueError, match="too large"):
        ops.im2col(x, 3, 1, 2**62)
    cols = ops.im2col(x, 3)
    with pytest.raises(ValueError, match="cols must have shape"):
        ops.col2im(cols[1:], x.shape, 3)
    with pytest.raises(ValueError, match="x_shape must have 4"):
        ops.col2im(cols, (2, 3, 5), 3)
    with pytest.raises(ValueError, match="x_shape must be non-negative"):
        ops.avg_pool2d_backward(np.zeros((2, 3, 1, 1)), (2, 3, -5, 5), 3)
    with pytest.raises(TypeError, match="x_shape"):
        ops.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2), np.int64), 5)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 2, 2\)"):
        ops.avg_pool2d_backward(np.zeros((2, 3, 1, 1)), x.shape, 2)


def test_bad_argmax_raises_before_any_write():
    dout = np.ones((1, 1, 2, 2))
    with pytest.raises(TypeError, match="argmax must hold integers"):
        ops.max_pool2d_backward(dout, np.zeros((1, 1, 2, 2)), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"argmax holds 16 .*outside \[0, 16\)"):
        ops.max_pool2d_backward(dout, np.array([0, 1, 16, 2]).reshape(1, 1, 2, 2), (1, 1, 4, 4))
    with pytest.raises(ValueError, match="argmax holds -9223372036854775808"):
        ops.max_pool2d_backward(dout, np.full((1, 1, 2, 2), np.iinfo(np.int64).min), (1, 1, 4, 4))
    with pytest.raises(ValueError, match="too large"):
        ops.max_pool2d_backward(dout, np.full((1, 1, 2, 2), 2**64 - 1, np.uint64), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C\) of x_shape"):
        ops.max_pool2d_backward(dout, np.zeros((1, 1, 2, 2), np.int64), (2, 1, 4, 4))


# --- PyTorch parity ----------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    x, w, b, s, p = _conv_data(rng, case, np.float64)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=_pair(s), padding=_pair(p))
    y = ops.conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(dout))
    for got, t in zip(ops.conv2d_backward(dout, x, w, s, p), (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pools_match_torch(rng, case):
    torch = pytest.importorskip("torch")
    N, C, H, W, k, s = case
    x = _distinct(rng, (N, C, H, W))
    kwargs = {"kernel_size": _pair(k), "stride": _pair(s) if s is not None else None}
    for kind in ("max", "avg"):
        tx = torch.tensor(x, requires_grad=True)
        fn = getattr(torch.nn.functional, f"{kind}_pool2d")
        ty = fn(tx, **kwargs)
        if kind == "max":
            y, argmax = ops.max_pool2d_forward(x, k, s)
        else:
            y = ops.avg_pool2d_forward(x, k, s)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12)
        dout = rng.standard_normal(y.shape)
        ty.backward(torch.tensor(dout))
        if kind == "max":
            dx = ops.max_pool2d_backward(dout, argmax, x.shape)
        else:
            dx = ops.avg_pool2d_backward(dout, x.shape, k, s)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-14)


CONV_OPS = [
    "im2col", "col2im", "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
]


@pytest.mark.parametrize("name", CONV_OPS)
def test_reference_has_the_same_signature(name):
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(ops, name)) == params(getattr(ref, name))
