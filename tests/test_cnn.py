"""The CNN examples: the digits CNN reaches 97%, is bitwise reproducible for any
thread count; SimpleConvNet trains on MNIST-format IDX files (a synthetic set
written here)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from fastbp.examples.cnn import cnn_digits, simple_convnet, simple_convnet_mnist
from support import num_threads
from support import idx_bytes


def test_cnn_digits_reaches_97_percent():
    pytest.importorskip("sklearn")
    result = cnn_digits(seed=0)
    assert result["accuracy"] >= 0.97, result["summary"]
    assert result["train_accuracy"] >= 0.97
    losses = result["loss_history"]
    assert losses.shape == (8 * 45,) and np.all(np.isfinite(losses))
    assert losses[-45:].mean() < 0.2 * losses[:45].mean()
    assert len(result["accuracy_history"]) == 8
    X_test, y_test = result["test_data"]
    assert X_test.shape == (360, 1, 8, 8) and y_test.shape == (360,)
    assert result["model"][0].weight.shape == (16, 1, 3, 3)
    assert set(result["params"]) == {"0.weight", "0.bias", "4.weight", "4.bias",
                                     "6.weight", "6.bias"}
    assert result["time_s"] > 0


@pytest.mark.slow
def test_cnn_digits_reaches_97_percent_for_every_seed():
    """`fastbp run cnn --seed k`, k = 0..7: every model seed reaches 97% on the
    same held-out digits (the split does not depend on the model seed)."""
    pytest.importorskip("sklearn")
    results = [cnn_digits(seed=k) for k in range(8)]
    accuracies = [r["accuracy"] for r in results]
    assert min(accuracies) >= 0.97, accuracies
    for r in results[1:]:
        np.testing.assert_array_equal(r["test_data"][1], results[0]["test_data"][1])
    assert len({tuple(r["predictions"]) for r in results}) > 1  # the seeds train different nets


def test_cnn_digits_bitwise_identical_for_1_and_2_threads():
    pytest.importorskip("sklearn")
    runs = []
    for n in (1, 2):
        with num_threads(n):
            runs.append(cnn_digits(seed=3, epochs=1, batch_size=64))
    a, b = runs
    np.testing.assert_array_equal(a["loss_history"], b["loss_history"])
    for key in a["params"]:
        np.testing.assert_array_equal(a["params"][key], b["params"][key], err_msg=key)


def test_cnn_digits_argument_errors():
    with pytest.raises(ValueError, match="epochs"):
        cnn_digits(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        cnn_digits(lr=-1.0)
    with pytest.raises(TypeError, match="batch_size"):
        cnn_digits(batch_size=1.5)


def test_simple_convnet_shapes():
    model = simple_convnet(rng=0)
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(30, 1, 5, 5), (30,), (4320, 100), (100,), (100, 10), (10,)]
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match="too small"):
        simple_convnet((1, 5, 5))


def synthetic_mnist(folder, rng, n_train=300, n_test=100):
    """Ten classes, each a bright 8x8 square at its own place on a 28x28 canvas, with
    noise: learnable in one epoch. Written as the four gzipped IDX files."""
    folder.mkdir()

    def make(n):
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(y):
            r, c = 2 + 8 * (label // 4), 2 + 6 * (label % 4)
            X[i, r:r + 8, c:c + 8] = 255
        return X, y

    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X, y = make(n)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(X)))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y))


def test_simple_convnet_mnist_on_synthetic_idx(tmp_path, rng):
    synthetic_mnist(tmp_path / "mnist", rng)
    result = simple_convnet_mnist(tmp_path / "mnist", epochs=2, batch_size=50, seed=1)
    assert result["loss_history"].shape == (12,)
    assert result["accuracy"] >= 0.9, result["summary"]
    assert result["model"][0].weight.shape == (30, 1, 5, 5)
    assert result["hyperparameters"]["n_train"] == 300
    quick = simple_convnet_mnist(tmp_path / "mnist", epochs=1, max_train=100, max_test=20)
    assert quick["loss_history"].shape == (1,) and quick["predictions"].shape == (20,)


def test_plots(tmp_path, rng):
    pytest.importorskip("matplotlib")
    synthetic_mnist(tmp_path / "mnist", rng, n_train=100, n_test=40)
    result = simple_convnet_mnist(tmp_path / "mnist", epochs=1, plot_dir=tmp_path / "plots")
    assert set(result["plots"]) == {"curves", "filters", "misclassified"}
    for path in result["plots"].values():
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_simple_convnet_mnist_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError):
        simple_convnet_mnist(tmp_path)
