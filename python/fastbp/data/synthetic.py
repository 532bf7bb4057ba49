"""Generated data sets: the CS231n spiral, a noisy line, and mini-batches.

Shapes: N samples, K classes, D features. Every generator takes a ``seed`` and
returns the same arrays for the same arguments on any machine. ``spiral`` draws
from NumPy's legacy ``RandomState`` (the stream behind ``np.random.seed``) so
that ``seed=0`` is the exact data set of the CS231n notes; everything else uses
``default_rng`` (PCG64).
"""

from __future__ import annotations

import numbers
from typing import Iterator, Optional, Tuple, Union

import numpy as np

RngLike = Union[None, int, np.random.Generator]
SpiralSeed = Union[None, int, np.random.RandomState, np.random.Generator]


def _as_rng(rng: RngLike, name: str = "rng") -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name}: expected None, an int seed or a numpy.random.Generator, "
        f"got {type(rng).__name__}"
    )


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def _nonneg_float(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name}: expected a number >= 0, got {value}")
    return float(value)


def spiral(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: SpiralSeed = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """K interleaved spiral arms in the plane, the CS231n toy data set.

    Arm j has N points at radius ``r = linspace(0, 1, N)`` and angle
    ``t = linspace(4j, 4(j+1), N) + noise * randn(N)``; a point is
    ``r * (sin t, cos t)``. Returns X float32 (N*K, 2) and y int64 (N*K,),
    arm after arm. Not linearly separable: a linear classifier gets about half
    of the points right, a 2-layer net nearly all.

    ``seed``: an int seeds a legacy ``np.random.RandomState``, so the draws are
    those of ``np.random.seed(seed)`` followed by the CS231n code (``seed=0``
    gives the data behind the notes' 49% and 98%). A ``RandomState`` or
    ``Generator`` is drawn from (and advanced), so a caller can keep drawing
    from the same stream afterwards, e.g. the initial weights, as the notes do;
    None uses fresh OS entropy.
    """
    n = _positive_int(n_per_class, "n_per_class")
    k = _positive_int(n_classes, "n_classes")
    noise = _nonneg_float(noise, "noise")
    if isinstance(seed, np.random.RandomState):
        randn = seed.randn
    elif isinstance(seed, np.random.Generator):
        randn = seed.standard_normal
    elif seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        randn = np.random.RandomState(seed).randn
    else:
        raise TypeError(
            "seed: expected None, an int, a numpy.random.RandomState or Generator, "
            f"got {type(seed).__name__}"
        )
    X = np.empty((n * k, 2), dtype=np.float64)
    y = np.empty(n * k, dtype=np.int64)
    r = np.linspace(0.0, 1.0, n)
    for j in range(k):
        rows = slice(n * j, n * (j + 1))
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n) + randn(n) * noise
        X[rows, 0] = r * np.sin(t)
        X[rows, 1] = r * np.cos(t)
        y[rows] = j
    return X.astype(np.float32), y


def noisy_line(
    n: int = 1000, a: float = 2.0, b: float = -1.0, noise: float = 0.5, seed: Optional[int] = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """Points of the line ``y = a x + b`` plus Gaussian noise of std ``noise``.

    x is standard normal, so a few points lie beyond |x| = 2.5 (which is what
    makes a large per-sample SGD step risky, see
    :func:`fastbp.examples.linear_regression`). Returns X float32 (n, 1) and
    y float32 (n, 1), ready for ``Linear(1, 1)``.
    """
    n = _positive_int(n, "n")
    if not isinstance(a, numbers.Real) or not isinstance(b, numbers.Real):
        raise TypeError(f"a, b: expected real numbers, got {type(a).__name__}, {type(b).__name__}")
    noise = _nonneg_float(noise, "noise")
    rng = _as_rng(seed, "seed")
    x = rng.standard_normal(n)
    y = a * x + b + noise * rng.standard_normal(n)
    return x.astype(np.float32).reshape(n, 1), y.astype(np.float32).reshape(n, 1)


def minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    rng: RngLike = None,
) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs covering every sample once (one epoch).

    With ``shuffle`` the order is a fresh permutation drawn from ``rng`` (a
    Generator, an int seed, or None for OS entropy): sampling without
    replacement. The last batch holds the remainder when ``batch_size`` does
    not divide N. Batches are copies (fancy indexing) when shuffled, views
    otherwise. Arguments are checked at the call, not at the first batch.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"X, y: expected arrays with a leading sample axis, got shapes {X.shape}, {y.shape}"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X, y: expected the same number of samples, got X {X.shape} and y {y.shape}"
        )
    batch_size = _positive_int(batch_size, "batch_size")
    # Checked above, eagerly; the generator below only slices.
    order = _as_rng(rng).permutation(X.shape[0]) if shuffle else None
    return _batches(X, y, batch_size, order)


def _batches(X, y, batch_size, order):
    n = X.shape[0]
    for start in range(0, n, batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]
