"""Hold-out splits: :func:`train_test_split`, shuffled and stratified.

Shapes: N samples; X (N, ...), y (N,) class labels.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Tuple, Union

import numpy as np

__all__ = ["train_test_split"]


def _test_count(test_size: Any, n: int) -> int:
    """The number of test samples: ``ceil(test_size * n)`` for a fraction in
    (0, 1), the int itself for an int in [1, n - 1]."""
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"train_test_split: test_size must be a float in (0, 1) or an int, "
                        f"got {type(test_size).__name__}")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"train_test_split: test_size as an int must be in [1, {n - 1}] "
                             f"for {n} samples, got {test_size}")
        return int(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: test_size as a fraction must be in (0, 1), "
                         f"got {test_size}")
    count = math.ceil(float(test_size) * n)
    if not 1 <= count <= n - 1:
        raise ValueError(f"train_test_split: test_size {test_size} of {n} samples leaves "
                         f"{count} test and {n - count} training samples; both need one")
    return count


def _per_class(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Test samples per class, proportional to ``counts`` and summing to ``n_test``:
    the floors of the exact shares, then one more for the largest remainders
    (ties to the larger class, then the lower label)."""
    exact = counts * (n_test / counts.sum())
    take = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(counts)), -counts, -(exact - take)))
    take[order[:n_test - int(take.sum())]] += 1
    return take


def train_test_split(
    X: Any,
    y: Any,
    test_size: Union[float, int] = 0.2,
    seed: Union[None, int, np.random.Generator] = 0,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits ``(X, y)`` into shuffled training and test sets with the same class
    proportions (stratified); returns ``X_train, X_test, y_train, y_test``, in
    scikit-learn's order.

    Args:
        X: samples, an array (N, ...).
        y: class labels (N,), integers or any values NumPy can sort.
        test_size: the fraction of samples held out (float in (0, 1), rounded
            up: 0.2 of 1797 is 360) or their number (int).
        seed: int or ``numpy.random.Generator`` for the shuffle (None: fresh
            entropy). The same seed gives the same split on any machine.

    Each class gives ``test_size`` of its samples to the test set (rounded so
    the total is exact), chosen at random; both sets are then shuffled. Every
    class needs at least 2 samples, and each set room for one sample per class
    (a rare class whose share rounds to 0 still has no test sample).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError("train_test_split: X must have a sample axis, got a scalar")
    if y.ndim != 1:
        raise ValueError(f"train_test_split: y must be 1-D class labels, got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X and y have different lengths: "
                         f"X {X.shape}, y {y.shape}")
    n = len(y)
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 samples, got {n}")
    n_test = _test_count(test_size, n)
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        rng = np.random.default_rng(seed)
    else:
        raise TypeError(f"train_test_split: seed must be an int, a numpy.random.Generator "
                        f"or None, got {type(seed).__name__}")
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        rare = classes[np.argmin(counts)].item()
        raise ValueError(f"train_test_split: class {rare!r} of y has only 1 sample; "
                         f"stratifying needs at least 2 per class")
    if not len(classes) <= n_test <= n - len(classes):
        raise ValueError(f"train_test_split: {n_test} test and {n - n_test} training samples "
                         f"cannot each hold all {len(classes)} classes")
    take = _per_class(counts, n_test)
    test_parts, train_parts = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test_parts.append(members[:take[c]])
        train_parts.append(members[take[c]:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return X[train], X[test], y[train], y[test]
