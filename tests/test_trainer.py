"""fastbp.fit, History and EarlyStopping: the loop against a hand-written one,
metrics, schedules, callbacks, progress bar, plots, bad input."""

import io
import sys

import numpy as np
import pytest

import fastbp
from fastbp import EarlyStopping, History, fit, losses, nn, optim
from fastbp.schedules import StepLR


def blobs(n_per_class=40, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 2.0], [0.0, -2.0]])
    y = np.repeat(np.arange(3), n_per_class)
    X = (centers[y] + 0.7 * rng.standard_normal((len(y), 2))).astype(np.float32)
    return X, y


def mlp(seed=0, dropout=0.0):
    layers = [nn.Linear(2, 16, rng=seed), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=seed))
    return nn.Sequential(*layers, nn.Linear(16, 3, rng=seed + 1))


def test_fit_learns_and_records(rng):
    X, y = blobs()
    Xv, yv = blobs(seed=1)
    model = mlp()
    h = fit(model, losses.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=0.02), X, y,
            epochs=15, batch_size=16, validation=(Xv, yv), progress=False, seed=0)
    assert isinstance(h, History) and h.epochs == 15 and not h.stopped_early
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "time", "lr"):
        assert len(h[key]) == 15, key
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.accuracy[-1] > 0.9 and h.val_accuracy[-1] > 0.9
    assert all(0 <= a <= 1 for a in h.accuracy + h.val_accuracy)
    assert all(t > 0 for t in h.time) and h.lr == [0.02] * 15
    assert model.training  # handed back in training mode
    assert repr(h).startswith("History(epochs=15, loss=")
    assert h.as_dict()["val_loss"] == h.val_loss


def test_fit_is_the_textbook_loop_bitwise():
    # The oracle: the explicit loop with the same permutations (one draw per epoch).
    X, y = blobs()
    model, ref = mlp(), mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loss, ref_loss = losses.SoftmaxCrossEntropy(), losses.SoftmaxCrossEntropy()
    h = fit(model, loss, opt, X, y, epochs=3, batch_size=25, progress=False, seed=7)
    perm_rng = np.random.default_rng(7)
    expected = []
    for _ in range(3):
        order = perm_rng.permutation(len(X))
        total = correct = 0.0
        for start in range(0, len(X), 25):
            idx = order[start:start + 25]
            ref_opt.zero_grad()
            out = ref(X[idx])
            total += ref_loss(out, y[idx]) * len(idx)
            correct += np.sum(out.argmax(1) == y[idx])
            ref.backward(ref_loss.backward())
            ref_opt.step()
        expected.append((total / len(X), correct / len(X)))
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert h.loss == pytest.approx([e[0] for e in expected], rel=1e-12)
    assert h.accuracy == pytest.approx([e[1] for e in expected], rel=1e-12)


def test_same_seed_same_run():
    X, y = blobs()
    runs = []
    for _ in range(2):
        model = mlp(dropout=0.2)
        h = fit(model, losses.SoftmaxCrossEntropy(), optim.RMSprop(model.parameters()), X, y,
                epochs=3, batch_size=32, progress=False, seed=3)
        runs.append((h.loss, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])


def test_validation_runs_in_eval_mode():
    X, y = blobs()
    model = mlp(dropout=0.5)
    loss = losses.SoftmaxCrossEntropy()
    h = fit(model, loss, optim.SGD(model.parameters(), lr=0.05), X, y, epochs=1,
            batch_size=len(X), validation=(X, y), progress=False, seed=0)
    model.eval()
    assert h.val_loss[0] == pytest.approx(loss(model(X), y), rel=1e-6)  # dropout off
    model.train()


def test_regression_has_no_accuracy(rng):
    X = rng.standard_normal((64, 1))
    Y = 3 * X + 0.5
    model = nn.Linear(1, 1, dtype=np.float64, rng=0)
    h = fit(model, losses.MSELoss(), optim.Adam(model.parameters(), lr=0.1), X, Y,
            epochs=40, batch_size=16, validation=(X, Y), progress=False, seed=0)
    assert h.accuracy == [] and h.val_accuracy == [] and len(h.val_loss) == 40
    assert h.loss[-1] < 1e-3
    assert model.weight.data[0, 0] == pytest.approx(3.0, abs=0.05)


def test_schedules():
    X, y = blobs()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, losses.SoftmaxCrossEntropy(), opt, X, y, epochs=5, batch_size=40,
            schedule=StepLR(opt, step_size=2, gamma=0.5), progress=False, seed=0)
    assert h.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    h = fit(model, losses.SoftmaxCrossEntropy(), opt, X, y, epochs=3, batch_size=40,
            schedule=lambda epoch: 0.01 * (epoch + 1), progress=False, seed=0)
    assert h.lr == pytest.approx([0.01, 0.02, 0.03])


def test_early_stopping_stops_and_restores_best():
    X, y = blobs()
    Xv, yv = blobs(seed=5)
    model = mlp()
    snapshots = []
    stopper = EarlyStopping(patience=2)

    def snapshot(epoch, history):
        snapshots.append(model.state_dict())

    # Sensible steps for 4 epochs, then a rate that wrecks the model.
    h = fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
            epochs=30, batch_size=20, validation=(Xv, yv), progress=False, seed=0,
            schedule=lambda epoch: 0.1 if epoch < 4 else 200.0, callbacks=[snapshot, stopper])
    assert h.stopped_early and h.epochs < 30
    assert stopper.stopped_epoch == h.epochs - 1
    assert stopper.best == min(h.val_loss) == h.val_loss[stopper.best_epoch]
    assert h.epochs - 1 - stopper.best_epoch == stopper.patience
    for k, v in model.state_dict().items():  # the best epoch's weights are back
        np.testing.assert_array_equal(v, snapshots[stopper.best_epoch][k])


def test_early_stopping_on_accuracy_and_function_callbacks():
    X, y = blobs()
    model = mlp()
    stopper = EarlyStopping(monitor="accuracy", patience=1, restore_best_weights=False)
    assert stopper.mode == "max"
    h = fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.0), X, y,
            epochs=10, batch_size=30, progress=False, seed=0, callbacks=[stopper])
    assert h.epochs == 2  # lr 0: nothing improves after the first epoch
    calls = []
    h = fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
            epochs=10, batch_size=30, progress=False, seed=0,
            callbacks=[lambda epoch, history: calls.append(epoch) or epoch == 2])
    assert calls == [0, 1, 2] and h.epochs == 3 and h.stopped_early


def test_early_stopping_needs_its_metric():
    X, y = blobs()
    model = mlp()
    with pytest.raises(ValueError, match="val_loss.*validation="):
        fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
            epochs=2, batch_size=30, progress=False, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping(monitor="f1")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


class _Tty(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def test_progress_bar(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    X, y = blobs(10)
    model = mlp()
    terminal = _Tty()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=2, batch_size=10, progress=True, seed=0)
    monkeypatch.undo()
    err = terminal.getvalue()
    assert "fit" in err and "6/6" in err and "loss=" in err and "acc=" in err
    fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=1, batch_size=10, progress=False, seed=0)
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "tqdm", None)
    X, y = blobs(10)
    model = mlp()
    h = fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
            epochs=1, batch_size=10, progress=True, seed=0)
    assert h.epochs == 1 and capsys.readouterr().err == ""


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    h = History()
    h.loss += [1.0, 0.5, 0.3]
    h.val_loss += [1.1, 0.6, 0.5]
    h.accuracy += [0.3, 0.6, 0.8]
    path = tmp_path / "h.png"
    assert h.plot(str(path)) == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="nothing to plot"):
        History().plot(str(tmp_path / "empty.png"))
    with pytest.raises(KeyError, match="no metric"):
        h["f1"]


def test_history_plot_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    h = History()
    h.loss.append(1.0)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        h.plot(str(tmp_path / "x.png"))


def test_bad_input():
    X, y = blobs(5)
    model = mlp()
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    kw = {"epochs": 1, "batch_size": 4, "progress": False}
    cases = [
        (lambda: fit(model, loss, opt, X, y[:-1], **kw), ValueError, "different lengths"),
        (lambda: fit(model, loss, opt, X[:0], y[:0], **kw), ValueError, "empty"),
        (lambda: fit(model, loss, opt, X, y, epochs=0, batch_size=4), ValueError, "epochs"),
        (lambda: fit(model, loss, opt, X, y, epochs=1, batch_size=2.5), TypeError,
         "batch_size"),
        (lambda: fit(model, loss, "sgd", X, y, **kw), TypeError, "optimizer"),
        (lambda: fit(model, "xent", opt, X, y, **kw), TypeError, "loss"),
        (lambda: fit(np.zeros(3), loss, opt, X, y, **kw), TypeError, "model"),
        (lambda: fit(model, loss, opt, X, y, validation=X, **kw), TypeError, "validation"),
        (lambda: fit(model, loss, opt, X, y, validation=(X, y[:2]), **kw), ValueError,
         "validation X and y"),
        (lambda: fit(model, loss, opt, X, y, schedule=3, **kw), TypeError, "schedule"),
        (lambda: fit(model, loss, opt, X, y, callbacks=[3], **kw), TypeError, "callbacks"),
        (lambda: fit(model, loss, opt, X, y + 7, **kw), ValueError, "outside"),
        (lambda: fit(model, loss, opt, X[:, :1], y, **kw), ValueError, "Linear"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
    assert fastbp.fit is fit and fastbp.History is History
