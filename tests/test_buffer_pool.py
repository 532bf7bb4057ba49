"""The cache of freed result buffers: reuse, its limits, emptying it, and that a
reused buffer never leaks old values into a result."""

import numpy as np

import fastbp
from fastbp import ops
from fastbp import reference as ref

MIB = 1 << 20
CAP = 256 * MIB  # buffer_pool::kMaxCachedBytes


def test_freed_result_is_reused():
    fastbp.empty_cache()
    x = np.ones((512, 512), np.float32)  # 1 MiB results
    y = ops.relu_forward(x)
    address = y.ctypes.data
    del y
    assert fastbp.cached_bytes() == MIB
    y = ops.relu_forward(x)
    assert y.ctypes.data == address
    assert fastbp.cached_bytes() == 0


def test_small_results_are_not_cached():
    fastbp.empty_cache()
    y = ops.relu_forward(np.ones((16, 16), np.float32))
    del y
    assert fastbp.cached_bytes() == 0


def test_cache_stays_within_its_limit():
    fastbp.empty_cache()
    x = np.ones((4 << 20,), np.float32)  # 16 MiB each
    results = [ops.relu_forward(x) for _ in range(24)]  # 384 MiB live
    del results
    assert 0 < fastbp.cached_bytes() <= CAP
    assert fastbp.empty_cache() > 0
    assert fastbp.cached_bytes() == 0


def test_reused_buffers_hold_fresh_values(rng):
    """Every result is fully written: a recycled buffer shows no stale data."""
    fastbp.empty_cache()
    x = rng.standard_normal((100, 6, 24, 24)).astype(np.float32)
    for _ in range(3):
        y, argmax = ops.max_pool2d_forward(x, 2)
        y_ref, argmax_ref = ref.max_pool2d_forward(x, 2)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(argmax, argmax_ref)
        dx = ops.max_pool2d_backward(y, argmax, x.shape)
        np.testing.assert_array_equal(dx, ref.max_pool2d_backward(y, argmax, x.shape))
        x = -x  # new values in the same sizes
    assert fastbp.cached_bytes() > 0


def test_index_array_keeps_its_buffer_alive(rng):
    x = rng.standard_normal((64, 4, 16, 16)).astype(np.float32)
    _, argmax = ops.max_pool2d_forward(x, 2)
    view = argmax[::2]  # a view keeps the pool-owned storage alive
    expected = view.copy()
    del argmax
    # A result of the same byte count would take the buffer had it been released,
    # and overwrite the indices with zeros.
    ops.relu_forward(np.full(expected.size * 2, -1.0))
    np.testing.assert_array_equal(view, expected)
