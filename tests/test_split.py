"""fastbp.data.train_test_split: shuffled, stratified, scikit-learn's return order."""

import numpy as np
import pytest

from fastbp.data import load_digits, train_test_split


def _data(counts=(50, 30, 20)):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y) * 2, dtype=np.float32).reshape(len(y), 2)  # row i holds 2i, 2i+1
    return X, y


def test_split_is_a_stratified_partition():
    X, y = _data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    assert X_train.shape == (80, 2) and X_test.shape == (20, 2)
    assert y_train.shape == (80,) and y_test.shape == (20,)
    assert np.bincount(y_test).tolist() == [10, 6, 4]  # 20% of each class
    assert np.bincount(y_train).tolist() == [40, 24, 16]
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]) // 2
    assert sorted(rows.astype(int).tolist()) == list(range(100))  # every sample once
    np.testing.assert_array_equal(y[(X_train[:, 0] // 2).astype(int)], y_train)  # pairs kept
    np.testing.assert_array_equal(y[(X_test[:, 0] // 2).astype(int)], y_test)


def test_split_is_shuffled_and_seeded():
    X, y = _data()
    a = train_test_split(X, y, seed=0)
    b = train_test_split(X, y, seed=0)
    c = train_test_split(X, y, seed=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    assert not np.all(np.diff(a[2]) >= 0)  # training labels not left grouped by class
    assert not np.all(np.diff(a[3]) >= 0)
    d = train_test_split(X, y, seed=np.random.default_rng(0))
    assert d[0].shape == (80, 2)


def test_proportions_match_scikit_learn():
    sklearn = pytest.importorskip("sklearn.model_selection")
    X, y = load_digits()
    ours = train_test_split(X, y, test_size=0.2, seed=0)
    theirs = sklearn.train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    assert [len(a) for a in ours] == [len(a) for a in theirs] == [1437, 360, 1437, 360]
    # the per-class test counts differ by at most one from scikit-learn's
    diff = np.bincount(ours[3], minlength=10) - np.bincount(theirs[3], minlength=10)
    assert np.abs(diff).max() <= 1 and diff.sum() == 0


def test_int_test_size_and_rounding():
    X, y = _data((7, 5, 3))
    _, X_test, _, y_test = train_test_split(X, y, test_size=4, seed=0)
    assert len(X_test) == 4 and sorted(set(y_test.tolist())) == [0, 1, 2]
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.3, seed=0)  # ceil(4.5) = 5
    assert len(X_test) == 5 and np.bincount(y_test).tolist() == [2, 2, 1]


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(test_size=0.0), ValueError, r"test_size as a fraction must be in \(0, 1\)"),
    (dict(test_size=1.0), ValueError, "test_size"),
    (dict(test_size=100), ValueError, r"test_size as an int must be in \[1, 99\]"),
    (dict(test_size=2), ValueError, "cannot each hold all 3 classes"),
    (dict(test_size="0.2"), TypeError, "test_size must be a float"),
    (dict(test_size=True), TypeError, "test_size"),
    (dict(seed="x"), TypeError, "seed must be an int"),
])
def test_bad_arguments(kwargs, exc, match):
    X, y = _data()
    with pytest.raises(exc, match=match):
        train_test_split(X, y, **kwargs)


def test_bad_data():
    X, y = _data()
    with pytest.raises(ValueError, match="X and y have different lengths"):
        train_test_split(X, y[:-1])
    with pytest.raises(ValueError, match="y must be 1-D"):
        train_test_split(X, y.reshape(-1, 1))
    with pytest.raises(ValueError, match="class 3 of y has only 1 sample"):
        train_test_split(np.zeros((101, 2)), np.append(y, 3))
    with pytest.raises(ValueError, match="X must have a sample axis"):
        train_test_split(np.float32(1), y)
