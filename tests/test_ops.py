"""Dense ops (activations, linear, softmax-cross-entropy) against fastbp.reference."""

import numpy as np
import pytest

from fastbp import ops
from fastbp import reference as ref
from support import num_threads, tolerance

SHAPES = [(0,), (1,), (7,), (3, 5), (2, 3, 4), (257, 33), (4, 1, 9, 9)]
UNARY = ["relu", "sigmoid", "tanh", "leaky_relu"]
# Backward passes take the forward input (relu family) or output (sigmoid, tanh).
SAVES_OUTPUT = {"relu": False, "leaky_relu": False, "sigmoid": True, "tanh": True}


def random_array(rng, shape, dtype, scale=3.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_forward_backward_match_reference(name, shape, dtype, rng):
    x = random_array(rng, shape, dtype)
    dout = random_array(rng, shape, dtype)
    fwd, bwd = f"{name}_forward", f"{name}_backward"
    y = getattr(ops, fwd)(x)
    y_ref = getattr(ref, fwd)(x)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, y_ref, **tolerance(dtype))
    saved = y if SAVES_OUTPUT[name] else x
    dx = getattr(ops, bwd)(dout, saved)
    np.testing.assert_allclose(dx, getattr(ref, bwd)(dout, saved), **tolerance(dtype))


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2])
def test_leaky_relu_slope(slope, dtype, rng):
    x = random_array(rng, (50,), dtype)
    np.testing.assert_allclose(
        ops.leaky_relu_forward(x, slope), ref.leaky_relu_forward(x, slope), **tolerance(dtype)
    )
    dout = random_array(rng, (50,), dtype)
    np.testing.assert_allclose(
        ops.leaky_relu_backward(dout, x, slope),
        ref.leaky_relu_backward(dout, x, slope),
        **tolerance(dtype),
    )


@pytest.mark.parametrize("name", UNARY)
def test_activation_accepts_strided_views(name, dtype, rng):
    base = random_array(rng, (20, 30), dtype)
    view = base[::3, 1::2].T  # neither C- nor F-contiguous
    fwd = f"{name}_forward"
    np.testing.assert_allclose(getattr(ops, fwd)(view), getattr(ref, fwd)(view), **tolerance(dtype))


def test_activation_values_by_hand():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(ops.relu_forward(x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(ops.sigmoid_forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ops.tanh_forward(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_array_equal(ops.relu_backward(np.ones(3), x), [0.0, 0.0, 1.0])


def test_sigmoid_saturates_without_overflow():
    x = np.array([-1e4, -100.0, 100.0, 1e4], dtype=np.float32)
    y = ops.sigmoid_forward(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[[0, 3]], [0.0, 1.0])


def test_nan_propagates_like_numpy():
    x = np.array([np.nan, -np.inf, np.inf, 1.0])
    np.testing.assert_array_equal(ops.relu_forward(x), np.maximum(x, 0))
    assert np.isnan(ops.sigmoid_forward(x)[0]) and np.isnan(ops.tanh_forward(x)[0])


@pytest.mark.parametrize("n,d,m", [(1, 1, 1), (0, 3, 4), (5, 0, 3), (7, 13, 5), (64, 100, 33)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_reference(n, d, m, with_bias, dtype, rng):
    x, w = random_array(rng, (n, d), dtype, 1.0), random_array(rng, (d, m), dtype, 1.0)
    b = random_array(rng, (m,), dtype, 1.0) if with_bias else None
    np.testing.assert_allclose(
        ops.linear_forward(x, w, b), ref.linear_forward(x, w, b), **tolerance(dtype)
    )
    dout = random_array(rng, (n, m), dtype, 1.0)
    for got, want in zip(ops.linear_backward(dout, x, w), ref.linear_backward(dout, x, w)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **tolerance(dtype))


def test_linear_backward_accumulate_adds_into_grads(dtype, rng):
    x, w = random_array(rng, (9, 4), dtype, 1.0), random_array(rng, (4, 6), dtype, 1.0)
    dout = random_array(rng, (9, 6), dtype, 1.0)
    w_grad, b_grad = np.ones((4, 6), dtype), np.ones(6, dtype)
    w_grad_ref, b_grad_ref = w_grad.copy(), b_grad.copy()
    dx = ops.linear_backward_accumulate(dout, x, w, w_grad, b_grad)
    dx_ref = ref.linear_backward_accumulate(dout, x, w, w_grad_ref, b_grad_ref)
    np.testing.assert_allclose(dx, dx_ref, **tolerance(dtype))
    np.testing.assert_allclose(w_grad, w_grad_ref, **tolerance(dtype))
    np.testing.assert_allclose(b_grad, b_grad_ref, **tolerance(dtype))


def test_linear_backward_accumulate_without_input_grad(dtype, rng):
    x, w = random_array(rng, (9, 4), dtype, 1.0), random_array(rng, (4, 6), dtype, 1.0)
    dout = random_array(rng, (9, 6), dtype, 1.0)
    w_grad, b_grad = np.ones((4, 6), dtype), np.ones(6, dtype)
    w_grad_all, b_grad_all = w_grad.copy(), b_grad.copy()
    ops.linear_backward_accumulate(dout, x, w, w_grad_all, b_grad_all)
    assert ops.linear_backward_accumulate(dout, x, w, w_grad, b_grad, input_grad=False) is None
    np.testing.assert_array_equal(w_grad, w_grad_all)
    np.testing.assert_array_equal(b_grad, b_grad_all)
    assert ref.linear_backward_accumulate(dout, x, w, w_grad, b_grad, input_grad=False) is None


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("n, m", [(1, 1), (3, 31), (300, 32), (5, 33), (300, 100), (2, 257),
                                  (70000, 3), (1000, 100)])
def test_bias_gradient_sums_rows_in_order(n, m, accumulate, dtype, rng):
    # db = (accumulate ? db : 0) + dout[0] + dout[1] + ..., rounded after each row: every
    # ISA's column-sum loops must give these bits (blocks of columns, tails, threads).
    x, w = random_array(rng, (n, 2), dtype, 1.0), random_array(rng, (2, m), dtype, 1.0)
    dout = random_array(rng, (n, m), dtype, 1.0)
    b_grad = random_array(rng, (m,), dtype, 1.0)
    want = b_grad.copy() if accumulate else np.zeros(m, dtype)
    for row in dout:
        want += row
    w_grad = np.zeros((2, m), dtype)
    ops.linear_backward_accumulate(dout, x, w, w_grad, b_grad, accumulate=accumulate)
    np.testing.assert_array_equal(b_grad, want)


@pytest.mark.parametrize("fused", [False, True])
def test_linear_backward_without_accumulate_overwrites(fused, dtype, rng):
    # accumulate=False writes dw and db whole: the buffers' old contents (NaN here) are
    # never read, and the result is the reference's.
    x, w = random_array(rng, (9, 4), dtype, 1.0), random_array(rng, (4, 6), dtype, 1.0)
    dout = random_array(rng, (9, 6), dtype, 1.0)
    y = random_array(rng, (9, 6), dtype, 1.0)
    w_grad, b_grad = np.full((4, 6), np.nan, dtype), np.full(6, np.nan, dtype)
    w_grad_ref, b_grad_ref = np.zeros((4, 6), dtype), np.zeros(6, dtype)
    if fused:
        ops.linear_relu_backward_accumulate(dout, x, w, y, w_grad, b_grad, accumulate=False)
        ref.linear_relu_backward_accumulate(dout, x, w, y, w_grad_ref, b_grad_ref,
                                            accumulate=False)
    else:
        ops.linear_backward_accumulate(dout, x, w, w_grad, b_grad, accumulate=False)
        ref.linear_backward_accumulate(dout, x, w, w_grad_ref, b_grad_ref, accumulate=False)
    np.testing.assert_allclose(w_grad, w_grad_ref, **tolerance(dtype))
    np.testing.assert_allclose(b_grad, b_grad_ref, **tolerance(dtype))


def test_linear_backward_accumulate_rejects_copies(rng):
    x, w = np.ones((3, 4)), np.ones((4, 5))
    dout = np.ones((3, 5))
    with pytest.raises(ValueError, match="w_grad must be a writable C-contiguous"):
        ops.linear_backward_accumulate(dout, x, w, np.ones((5, 4)).T)
    frozen = np.ones((4, 5))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="w_grad"):
        ops.linear_backward_accumulate(dout, x, w, frozen)


# The small-GEMM loops add the bias as they store (K <= 8, M <= 3 classes, 2 rows); the
# others fill y with it and accumulate: both round each element exactly as
# gemm(x, w, c=bias rows, beta=1) does.
@pytest.mark.parametrize("n,d,m", [(300, 2, 100), (300, 100, 3), (2, 50, 40), (37, 5, 9),
                                   (64, 300, 129), (1, 1, 1)])
def test_linear_forward_bias_is_gemm_onto_bias_rows(n, d, m, dtype, rng):
    x = random_array(rng, (n, d), dtype)
    w = random_array(rng, (d, m), dtype)
    b = random_array(rng, (m,), dtype)
    want = ops.gemm(x, w, np.tile(b, (n, 1)), beta=1.0)
    np.testing.assert_array_equal(ops.linear_forward(x, w, b), want)  # gemm: see test_gemm.py


@pytest.mark.parametrize("n,d,m", [(300, 2, 100), (300, 100, 3), (37, 5, 9), (64, 300, 129),
                                   (128, 256, 10), (0, 3, 4), (1, 1, 1)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_relu_is_bitwise_the_unfused_pair(n, d, m, with_bias, dtype, rng):
    """linear_relu_forward / linear_relu_backward_accumulate against the Linear and ReLU
    ops called one after the other (small-product and blocked GEMM shapes), and against
    their NumPy twins."""
    x = random_array(rng, (n, d), dtype, 1.0)
    w = random_array(rng, (d, m), dtype, 1.0)
    b = random_array(rng, (m,), dtype, 1.0) if with_bias else None
    tol = tolerance(dtype)
    tol["atol"] *= 4 * max(d, n, 1) ** 0.5  # sums of d (forward) or n (dw) products
    y = ops.linear_relu_forward(x, w, b)
    h = ops.linear_forward(x, w, b)
    assert y.tobytes() == ops.relu_forward(h).tobytes()
    np.testing.assert_allclose(y, ref.linear_relu_forward(x, w, b), **tol)
    dout = random_array(rng, (n, m), dtype, 1.0)
    grads = [np.zeros((d, m), dtype), np.zeros(m, dtype) if with_bias else None]
    want = [np.zeros((d, m), dtype), np.zeros(m, dtype) if with_bias else None]
    for _ in range(2):  # the gradients accumulate
        dx = ops.linear_relu_backward_accumulate(dout, x, w, y, *grads)
        want_dx = ops.linear_backward_accumulate(ops.relu_backward(dout, h), x, w, *want)
        assert dx.tobytes() == want_dx.tobytes()
    for got, expected in zip(grads, want):
        if got is not None:
            assert got.tobytes() == expected.tobytes()
    ref_grads = [np.zeros((d, m), dtype), np.zeros(m, dtype) if with_bias else None]
    ref_dx = ref.linear_relu_backward_accumulate(dout, x, w, y, *ref_grads)
    np.testing.assert_allclose(dx, ref_dx, **tol)
    np.testing.assert_allclose(grads[0], 2 * ref_grads[0], **tol)
    assert ops.linear_relu_backward_accumulate(dout, x, w, y, *grads, input_grad=False) is None


@pytest.mark.parametrize("n,d,m", [(300, 2, 100), (300, 100, 3), (3, 50, 20), (37, 5, 9),
                                   (128, 256, 10), (64, 300, 129)])
def test_linear_relu_keeps_nan_and_negative_zero(n, d, m, dtype, rng):
    """The ReLU the small-product loops take as they store (vector lanes and scalar tails)
    lets NaN and -0 through exactly as relu_forward does after the plain layer."""
    x = random_array(rng, (n, d), dtype, 1.0)
    w = -np.abs(random_array(rng, (d, m), dtype, 1.0)) - 0.5  # all negative
    b = random_array(rng, (m,), dtype, 1.0)
    x[1] = 0.0  # row 1: every product is 0 * negative = -0 ...
    b[::2] = -0.0  # ... so -0 + -0 = -0 in the even columns
    x[0, d // 2] = np.nan  # row 0: NaN everywhere
    y = ops.linear_relu_forward(x, w, b)
    h = ops.linear_forward(x, w, b)
    assert y.tobytes() == ops.relu_forward(h).tobytes()
    assert np.isnan(y[0]).all()
    zeros = h == 0  # the ReLU keeps their signs
    np.testing.assert_array_equal(np.signbit(y[zeros]), np.signbit(h[zeros]))
    if d <= 8:  # the K-small loops start each sum with a product: -0 reaches the ReLU
        assert np.signbit(h[1, ::2]).all()


def test_linear_relu_backward_checks_y(rng):
    x, w = random_array(rng, (4, 3), np.float32), random_array(rng, (3, 5), np.float32)
    y = ops.linear_relu_forward(x, w, None)
    w_grad = np.zeros_like(w)
    with pytest.raises(ValueError, match="shape"):
        ops.linear_relu_backward_accumulate(y, x, w, y[:, :2], w_grad)
    with pytest.raises(TypeError):
        ops.linear_relu_backward_accumulate(y, x, w, y.astype(np.float64), w_grad)
    with pytest.raises(TypeError, match="y"):
        ops.linear_relu_backward_accumulate(y, x, w, [[1.0]], w_grad)


# (700, 3) and (2000, 10) span several blocks of rows in the loss sum (see softmax_xent.cpp).
@pytest.mark.parametrize(
    "n,c", [(1, 1), (1, 3), (5, 10), (300, 3), (64, 1000), (700, 3), (2000, 10), (600, 1)]
)
def test_softmax_cross_entropy_matches_reference(n, c, dtype, rng):
    scores = random_array(rng, (n, c), dtype)
    labels = rng.integers(0, c, size=n)
    loss, dscores = ops.softmax_cross_entropy(scores, labels)
    loss_ref, dscores_ref = ref.softmax_cross_entropy(scores, labels)
    assert isinstance(loss, float)
    assert loss == pytest.approx(loss_ref, rel=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(dscores, dscores_ref, **tolerance(dtype))


def test_softmax_cross_entropy_by_hand():
    # Uniform scores over C classes: loss = log C, gradient (1/C - onehot) / N.
    loss, dscores = ops.softmax_cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    assert loss == pytest.approx(np.log(4), rel=1e-15)
    want = np.full((2, 4), 0.25)
    want[0, 1] -= 1
    want[1, 3] -= 1
    np.testing.assert_allclose(dscores, want / 2, rtol=1e-15)


@pytest.mark.parametrize("big", [1e4, -1e4, 3e38])
def test_softmax_cross_entropy_is_stable_for_huge_logits(big):
    scores = np.array([[big, 0.0, -big], [0.0, big, 1.0]], dtype=np.float32)
    loss, dscores = ops.softmax_cross_entropy(scores, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))


@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_softmax_cross_entropy_accepts_integer_labels(label_dtype, rng):
    scores = rng.standard_normal((6, 4))
    labels = np.array([0, 1, 2, 3, 0, 1], dtype=label_dtype)
    loss, _ = ops.softmax_cross_entropy(scores, labels)
    assert loss == pytest.approx(ref.softmax_cross_entropy(scores, labels.astype(np.int64))[0])


@pytest.mark.parametrize(
    "labels,message",
    [
        (np.array([0, 3]), r"labels\[1\] = 3 is outside \[0, 3\)"),
        (np.array([-1, 0]), r"labels\[0\] = -1"),
        (np.array([0, 1, 2]), "labels must have shape"),
        (np.array([[0, 1]]), "labels must have shape"),
        (np.array([0, 2**63 + 5], dtype=np.uint64), "too large"),
    ],
)
def test_softmax_cross_entropy_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        ops.softmax_cross_entropy(np.zeros((2, 3)), labels)


def test_softmax_cross_entropy_rejects_empty_and_non_integer():
    with pytest.raises(ValueError, match="empty batch"):
        ops.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="no classes"):
        ops.softmax_cross_entropy(np.zeros((2, 0)), np.zeros(2, dtype=np.int64))
    with pytest.raises(TypeError, match="labels must hold integers"):
        ops.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="labels must hold integers"):
        ops.softmax_cross_entropy(np.zeros((2, 3)), np.array([True, False]))
    with pytest.raises(TypeError, match="labels must be a numpy.ndarray"):
        ops.softmax_cross_entropy(np.zeros((2, 3)), [0, 1])


@pytest.mark.parametrize(
    "bad", [np.ones(3, np.float16), np.ones(3, np.int32), np.ones(3, bool), np.ones(3, complex),
            np.array([1.0], dtype=object), [1.0, 2.0], 3.0, None]
)
def test_non_float_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="x must"):
        ops.relu_forward(bad)


def test_mixed_dtypes_are_a_type_error():
    x32, x64 = np.ones((2, 3), np.float32), np.ones((2, 3), np.float64)
    with pytest.raises(TypeError, match="dout and x must have the same dtype"):
        ops.relu_backward(x64, x32)
    with pytest.raises(TypeError, match="x and w"):
        ops.linear_forward(x32, np.ones((3, 4)), None)
    with pytest.raises(TypeError, match="x and b"):
        ops.linear_forward(x32, np.ones((3, 4), np.float32), np.ones(4))


def test_shape_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"x has 3 features per row but w expects 4"):
        ops.linear_forward(np.ones((2, 3)), np.ones((4, 5)), None)
    with pytest.raises(ValueError, match=r"b must have shape \(5,\), got \(4,\)"):
        ops.linear_forward(np.ones((2, 4)), np.ones((4, 5)), np.ones(4))
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\)"):
        ops.linear_forward(np.ones(4), np.ones((4, 5)), None)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 5\)"):
        ops.linear_backward(np.ones((2, 4)), np.ones((2, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.sigmoid_backward(np.ones(3), np.ones(4))


def test_impossible_allocation_is_a_memory_error():
    # (1e6, 0) @ (0, 1e6) asks for a 4 TB float32 result from tiny inputs.
    x = np.ones((10**6, 0), np.float32)
    w = np.ones((0, 10**6), np.float32)
    with pytest.raises(MemoryError):
        ops.linear_forward(x, w, None)


def test_results_own_aligned_memory_and_outlive_inputs(rng):
    x = random_array(rng, (33, 17), np.float32)
    y = ops.relu_forward(x)
    assert y.ctypes.data % 64 == 0
    assert y.flags.c_contiguous and y.flags.writeable and y.flags.owndata is False
    del x
    import gc

    gc.collect()
    y += 1  # still valid memory, owned by the core tensor behind the view
    assert np.all(y >= 1)


def test_results_identical_for_one_and_two_threads(rng):
    scores = random_array(rng, (4096, 37), np.float32)
    labels = rng.integers(0, 37, size=4096)
    x = random_array(rng, (512, 300), np.float32)
    w = random_array(rng, (300, 129), np.float32)
    dout = random_array(rng, (512, 129), np.float32)
    big = random_array(rng, (1 << 19,), np.float32)

    def run():
        return (
            ops.softmax_cross_entropy(scores, labels),
            ops.linear_backward(dout, x, w),
            ops.sigmoid_forward(big),
        )

    with num_threads(1):
        one = run()
    with num_threads(2):
        two = run()
    assert one[0][0] == two[0][0]
    np.testing.assert_array_equal(one[0][1], two[0][1])
    for a, b in zip(one[1], two[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one[2], two[2])
