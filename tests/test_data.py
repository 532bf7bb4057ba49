"""fastbp.data: the spiral and line generators, mini-batches."""

import numpy as np
import pytest

from fastbp.data import minibatches, noisy_line, spiral


# --- spiral ----------------------------------------------------------------
def cs231n_spiral(N=100, K=3, noise=0.2, seed=0):
    """The generator as the CS231n notes write it, on the global legacy stream."""
    np.random.seed(seed)
    X = np.zeros((N * K, 2))
    y = np.zeros(N * K, dtype="uint8")
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)
        t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * noise
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def test_spiral_shapes_and_dtypes():
    X, y = spiral()
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), [100, 100, 100])
    X, y = spiral(n_per_class=7, n_classes=5, seed=3)
    assert X.shape == (35, 2) and y.shape == (35,)
    assert np.array_equal(y, np.repeat(np.arange(5), 7))


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("n,k,noise", [(100, 3, 0.2), (13, 4, 0.5)])
def test_spiral_is_the_cs231n_generator(seed, n, k, noise):
    X, y = spiral(n, k, noise, seed=seed)
    X_ref, y_ref = cs231n_spiral(n, k, noise, seed)
    assert np.array_equal(X, X_ref.astype(np.float32))
    assert np.array_equal(y, y_ref)


def test_spiral_radius_and_determinism():
    X, _ = spiral(noise=0.0)
    r = np.tile(np.linspace(0, 1, 100), 3)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), r, atol=1e-6)
    a, b = spiral(seed=5), spiral(seed=5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(spiral(seed=5)[0], spiral(seed=6)[0])


def test_spiral_draws_from_a_given_stream():
    rs = np.random.RandomState(0)
    X, _ = spiral(seed=rs)
    assert np.array_equal(X, spiral(seed=0)[0])
    np.random.seed(0)
    np.random.randn(300)  # the data's draws
    assert rs.randn() == np.random.randn()  # the stream was advanced, as in the notes
    X1, _ = spiral(seed=np.random.default_rng(0))
    X2, _ = spiral(seed=np.random.default_rng(0))
    assert np.array_equal(X1, X2)


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"n_per_class": 0}, ValueError),
        ({"n_classes": 0}, ValueError),
        ({"n_per_class": 2.5}, TypeError),
        ({"noise": -0.1}, ValueError),
        ({"noise": float("nan")}, ValueError),
        ({"seed": "zero"}, TypeError),
    ],
)
def test_spiral_bad_arguments(kwargs, exc):
    name = next(iter(kwargs))
    with pytest.raises(exc, match=name):
        spiral(**kwargs)


# --- noisy_line --------------------------------------------------------------
def test_noisy_line_shapes_dtypes_and_fit():
    X, y = noisy_line()
    assert X.shape == (1000, 1) and y.shape == (1000, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    A = np.c_[X.astype(np.float64), np.ones(1000)]
    w, b = np.linalg.lstsq(A, y[:, 0].astype(np.float64), rcond=None)[0]
    assert abs(w - 2.0) < 0.1 and abs(b + 1.0) < 0.1
    resid = y[:, 0] - (2.0 * X[:, 0] - 1.0)
    assert abs(resid.std() - 0.5) < 0.05


def test_noisy_line_exact_without_noise_and_deterministic():
    X, y = noisy_line(n=50, a=-3.0, b=0.5, noise=0.0, seed=1)
    np.testing.assert_allclose(y, -3.0 * X + 0.5, rtol=1e-6, atol=1e-6)
    a, b = noisy_line(seed=9), noisy_line(seed=9)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(noisy_line(seed=9)[0], noisy_line(seed=10)[0])


@pytest.mark.parametrize(
    "kwargs,exc", [({"n": 0}, ValueError), ({"noise": -1.0}, ValueError), ({"a": "2"}, TypeError)]
)
def test_noisy_line_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        noisy_line(**kwargs)


# --- minibatches -------------------------------------------------------------
def _data(n=10):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return X, y


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 25])
def test_minibatches_cover_every_sample_once(batch_size):
    X, y = _data(10)
    batches = list(minibatches(X, y, batch_size, rng=0))
    sizes = [len(yb) for _, yb in batches]
    full, rest = divmod(10, batch_size)
    assert sizes == [batch_size] * full + ([rest] if rest else [])
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen) == list(range(10))  # without replacement
    for Xb, yb in batches:  # rows stay paired with their labels
        assert np.array_equal(Xb, X[yb])


def test_minibatches_order_and_determinism():
    X, y = _data(10)
    in_order = [yb.tolist() for _, yb in minibatches(X, y, 4, shuffle=False)]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    a = [yb.tolist() for _, yb in minibatches(X, y, 3, rng=7)]
    b = [yb.tolist() for _, yb in minibatches(X, y, 3, rng=np.random.default_rng(7))]
    assert a == b
    assert sum(a, []) != list(range(10))
    rng = np.random.default_rng(1)  # a shared generator gives a new order each epoch
    e1 = [yb.tolist() for _, yb in minibatches(X, y, 10, rng=rng)]
    e2 = [yb.tolist() for _, yb in minibatches(X, y, 10, rng=rng)]
    assert e1 != e2


def test_minibatches_bad_arguments_raise_at_the_call():
    X, y = _data(10)
    with pytest.raises(ValueError, match=r"X \(10, 2\) and y \(9,\)"):
        minibatches(X, y[:9], 2)
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(X, y, 0)
    with pytest.raises(TypeError, match="batch_size"):
        minibatches(X, y, 2.0)
    with pytest.raises(TypeError, match="rng"):
        minibatches(X, y, 2, rng="seed")
    with pytest.raises(ValueError, match="sample axis"):
        minibatches(np.float32(1.0), y, 2)
