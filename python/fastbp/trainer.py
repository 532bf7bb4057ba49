"""A minibatch training loop: :func:`fit`, its :class:`History`, and callbacks.

::

    model = nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 3))
    history = fastbp.fit(model, losses.SoftmaxCrossEntropy(), optim.Adam(model.parameters()),
                         X, y, epochs=50, batch_size=32, validation=(X_val, y_val),
                         callbacks=[EarlyStopping(patience=5)], seed=0)
    history.plot("training.png")

Each step is the explicit loop of the textbooks (zero_grad, forward, loss,
backward, step); ``fit`` adds shuffling, metrics, a progress bar, learning-rate
schedules and callbacks around it.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from fastbp import distributed

__all__ = ["Callback", "EarlyStopping", "History", "fit"]

_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "time", "lr")


class History:
    """Per-epoch records of a :func:`fit` run, one entry per completed epoch.

    Attributes (lists of floats): ``loss`` (mean training loss over the epoch's
    samples), ``accuracy`` (training accuracy, a fraction), ``val_loss`` and
    ``val_accuracy`` (on ``validation``), ``time`` (seconds per epoch, validation
    included), ``lr`` (the learning rate the epoch used). A metric that does not
    apply stays an empty list: accuracy needs integer labels and (N, C) scores,
    the ``val_*`` lists need ``validation``. ``stopped_early`` is True when a
    callback ended training. ``history["val_loss"]`` reads a list by name.
    """

    def __init__(self) -> None:
        self.loss: List[float] = []
        self.accuracy: List[float] = []
        self.val_loss: List[float] = []
        self.val_accuracy: List[float] = []
        self.time: List[float] = []
        self.lr: List[float] = []
        self.stopped_early = False

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.loss)

    def __getitem__(self, key: str) -> List[float]:
        if key not in _METRICS:
            raise KeyError(f"History has no metric {key!r}; metrics are {list(_METRICS)}")
        return getattr(self, key)

    def as_dict(self) -> Dict[str, List[float]]:
        """``{metric: list}`` for every metric, copies."""
        return {k: list(getattr(self, k)) for k in _METRICS}

    def plot(self, path: str) -> str:
        """Writes the loss curves (and accuracy curves when recorded) to ``path``
        (PNG, or any format matplotlib knows from the suffix); returns ``path``.

        matplotlib is imported here, and drawn with the non-interactive Agg
        canvas (no window, no change to pyplot's backend); ImportError names the
        package to install when it is missing.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib "
                              "(or 'fastbp[examples]')") from e
        if not self.loss:
            raise ValueError("History.plot: nothing to plot (no completed epoch)")
        panels = [("loss", self.loss, self.val_loss)]
        if self.accuracy or self.val_accuracy:
            panels.append(("accuracy", self.accuracy, self.val_accuracy))
        fig = Figure(figsize=(5.5 * len(panels), 4))
        FigureCanvasAgg(fig)
        for i, (name, train, val) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            if train:
                ax.plot(range(1, len(train) + 1), train, label=f"train {name}")
            if val:
                ax.plot(range(1, len(val) + 1), val, label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return path

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={getattr(self, k)[-1]:.4g}" for k in
                         ("loss", "accuracy", "val_loss", "val_accuracy") if getattr(self, k))
        return f"History(epochs={self.epochs}{', ' + last if last else ''})"


class Callback:
    """Hooks :func:`fit` calls; override the ones you need.

    ``on_epoch_end`` returning True stops training after that epoch. A plain
    function ``f(epoch, history) -> bool`` can be passed instead of a Callback.
    """

    def on_train_begin(self, model: Any, history: History) -> None:
        """Called once before the first epoch, with the (still empty) history."""

    def on_epoch_end(self, epoch: int, history: History, model: Any) -> Optional[bool]:
        """Called after each epoch (0-based ``epoch``) has been recorded in
        ``history``; returning True stops training."""
        return None

    def on_train_end(self, model: Any, history: History) -> None:
        """Called once after the last epoch (also when a callback stopped training)."""


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: a :class:`History` metric, ``"val_loss"`` by default (needs
            ``validation``; ``"loss"`` works without).
        patience: epochs without improvement to wait (>= 1).
        min_delta: an improvement must beat the best value by more than this.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, else min).
        restore_best_weights: load the best epoch's ``model.state_dict()`` back
            at the end (also when training ran to ``epochs`` without stopping).

    After training, ``best``, ``best_epoch`` (0-based) and ``stopped_epoch``
    (None when it did not stop training) describe what happened.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        if monitor not in _METRICS:
            raise ValueError(f"EarlyStopping: monitor must be one of {list(_METRICS)}, "
                             f"got {monitor!r}")
        self.monitor = monitor
        self.patience = _positive_int(patience, "patience", "EarlyStopping")
        if not isinstance(min_delta, numbers.Real) or not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be a float >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.mode = ("max" if "accuracy" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: Optional[int] = None
        self.stopped_epoch: Optional[int] = None
        self.wait = 0
        self._best_state: Optional[Dict[str, np.ndarray]] = None

    def on_train_begin(self, model: Any, history: History) -> None:
        """Forgets the best value of a previous run."""
        self._reset()

    def on_epoch_end(self, epoch: int, history: History, model: Any) -> Optional[bool]:
        """Records an improvement (and the weights), or counts one more epoch
        without; True once ``patience`` epochs passed without improvement."""
        values = history[self.monitor]
        if not values:
            raise ValueError(f"EarlyStopping: metric {self.monitor!r} is not recorded"
                             + (" (pass validation=(X_val, y_val) to fit)"
                                if self.monitor.startswith("val_") else ""))
        value = values[-1]
        better = (value < self.best - self.min_delta if self.mode == "min"
                  else value > self.best + self.min_delta)
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = model.state_dict()
            return None
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, model: Any, history: History) -> None:
        """Loads the best epoch's weights back when ``restore_best_weights``."""
        if self.restore_best_weights and self._best_state is not None:
            model.load_state_dict(self._best_state)

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, mode={self.mode!r})")


def _positive_int(value: Any, name: str, owner: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be >= 1, got {value}")
    return int(value)


def _check_optimizer_params(model: Any, optimizer: Any) -> None:
    """ValueError unless every parameter ``optimizer`` updates is one of ``model``'s
    (an optimizer built on another model would train nothing, silently)."""
    opt_params = getattr(optimizer, "params", None)
    if opt_params is None or not hasattr(model, "parameters"):
        return
    own = {id(p) for p in model.parameters()}
    foreign = [i for i, p in enumerate(opt_params) if id(p) not in own]
    if foreign:
        raise ValueError(
            f"fit: optimizer holds {len(foreign)} of its {len(opt_params)} parameters that are "
            f"not model's (indices {foreign[:5]}{'...' if len(foreign) > 5 else ''}); build it "
            f"on this model: {type(optimizer).__name__}(model.parameters(), ...)")


def _check_data(X: Any, y: Any, what: str) -> Tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"fit: {what} X and y must be arrays with a batch axis, "
                         f"got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"fit: {what} X and y have different lengths: "
                         f"X {X.shape}, y {y.shape}")
    if len(X) == 0:
        raise ValueError(f"fit: {what} data is empty (X {X.shape})")
    return X, y


def _correct(out: np.ndarray, y: np.ndarray) -> Optional[float]:
    """How many argmax(out) == y, when out are (N, C) scores and y labels; else None."""
    out = np.asarray(out)
    if y.dtype.kind not in "iu" or out.ndim != 2 or out.shape[0] != y.shape[0]:
        return None
    return float(np.count_nonzero(np.argmax(out, axis=1) == y))


def _evaluate(model: Any, loss: Any, X: np.ndarray, y: np.ndarray,
              batch_size: int) -> Tuple[float, Optional[float]]:
    """Mean loss and accuracy over (X, y) in eval mode, in batches."""
    total, correct, n = 0.0, 0.0, len(X)
    has_acc = True
    for start in range(0, n, batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        out = model(xb)
        total += float(loss(out, yb)) * len(xb)
        c = _correct(out, yb)
        has_acc = has_acc and c is not None
        correct += c or 0.0
    return total / n, (correct / n if has_acc else None)


def fit(
    model: Any,
    loss: Any,
    optimizer: Any,
    X: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    validation: Optional[Tuple[Any, Any]] = None,
    schedule: Union[None, Any, Callable[[int], float]] = None,
    callbacks: Iterable[Union[Callback, Callable[[int, History], Any]]] = (),
    progress: bool = True,
    seed: Union[None, int, np.random.Generator] = None,
) -> History:
    """Trains ``model`` with minibatch steps; returns the :class:`History`.

    Each epoch shuffles the samples (a permutation drawn from ``seed``, so the
    same seed and model initialisation repeat a run exactly), then for each
    batch of ``batch_size`` rows (the last may be smaller): ``zero_grad``,
    forward, ``loss(out, yb)``, ``model.backward(loss.backward())``,
    ``optimizer.step()``. After the epoch: validation in ``eval()`` mode (then
    back to ``train()``), ``schedule.step()``, the callbacks.

    Args:
        model: a :class:`fastbp.nn.Module` (``forward``, ``backward``, ``train``/``eval``).
        loss: a :mod:`fastbp.losses` loss (mean over the batch).
        optimizer: a :mod:`fastbp.optim` optimizer over ``model.parameters()``.
        X, y: inputs and targets, the same length along axis 0.
        epochs, batch_size: ints >= 1.
        validation: ``(X_val, y_val)``, evaluated after every epoch.
        schedule: a :mod:`fastbp.schedules` schedule (``step()`` after each
            epoch), or a function ``epoch -> lr`` setting ``optimizer.lr`` before
            each epoch.
        callbacks: :class:`Callback` objects (e.g. :class:`EarlyStopping`) or
            functions ``f(epoch, history)``; a True return stops training.
        progress: show a tqdm progress bar (batches, with loss and accuracy)
            when stderr is a terminal and tqdm is installed; nothing otherwise
            (so redirected output and logs stay clean).
        seed: int or ``numpy.random.Generator`` for the shuffling.

    With a :class:`fastbp.distributed.DistributedOptimizer` (data parallel over
    MPI; every rank calls ``fit`` with the same data and seed), each global
    batch of ``batch_size`` samples is split over the ranks
    (:func:`fastbp.distributed.shard_bounds`), the History holds global means,
    identical on every rank, the buffers are averaged over the ranks after each
    epoch, the validation set is split over the ranks, and only rank 0 shows a
    progress bar.
    """
    epochs = _positive_int(epochs, "epochs", "fit")
    batch_size = _positive_int(batch_size, "batch_size", "fit")
    for obj, need, what in [(model, ("forward", "backward", "train", "eval"), "model"),
                            (loss, ("backward",), "loss"),
                            (optimizer, ("step", "zero_grad"), "optimizer")]:
        if isinstance(obj, type):  # the class itself, e.g. losses.SoftmaxCrossEntropy
            raise TypeError(f"fit: {what} must be an instance, got the class {obj.__name__}; "
                            f"create one first, e.g. {obj.__name__}(...)")
        missing = [m for m in need if not hasattr(obj, m)]
        if missing or (what == "loss" and not callable(loss)):
            raise TypeError(f"fit: {what} must have {', '.join(need)}; "
                            f"got {type(obj).__name__}")
    _check_optimizer_params(model, optimizer)
    X, y = _check_data(X, y, "training")
    val: Optional[Tuple[np.ndarray, np.ndarray]] = None
    if validation is not None:
        try:
            X_val, y_val = validation
        except (TypeError, ValueError):
            raise TypeError("fit: validation must be a pair (X_val, y_val)") from None
        val = _check_data(X_val, y_val, "validation")
    if schedule is not None and not (hasattr(schedule, "step") or callable(schedule)):
        raise TypeError(f"fit: schedule must have step() or be a function epoch -> lr, "
                        f"got {type(schedule).__name__}")
    cbs: List[Any] = list(callbacks)
    for cb in cbs:
        if not (isinstance(cb, Callback) or callable(cb)):
            raise TypeError(f"fit: callbacks must be Callback objects or functions, "
                            f"got {type(cb).__name__}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dp = distributed.fit_plan(optimizer, len(X))  # None unless data parallel

    n = len(X)
    steps_per_epoch = -(-n // batch_size)
    show = progress and (dp is None or dp.is_root)
    bar = _progress_bar(epochs * steps_per_epoch) if show else None
    history = History()
    model.train()
    for cb in cbs:
        if isinstance(cb, Callback):
            cb.on_train_begin(model, history)
    try:
        for epoch in range(epochs):
            if schedule is not None and not hasattr(schedule, "step"):
                optimizer.lr = schedule(epoch)
            lr = getattr(optimizer, "lr", float("nan"))
            start = time.perf_counter()
            order = rng.permutation(n)
            if dp is not None:
                order = dp.same_order(order)
            total, correct, has_acc = 0.0, 0.0, True
            for b in range(steps_per_epoch):
                idx = order[b * batch_size:(b + 1) * batch_size]
                if dp is not None:
                    idx = dp.local(idx)
                    if len(idx) == 0:  # a last batch smaller than the ranks: no samples here
                        optimizer.zero_grad()
                        optimizer.step()
                        continue
                xb, yb = X[idx], y[idx]
                optimizer.zero_grad()
                out = model(xb)
                value = float(loss(out, yb))
                model.backward(loss.backward())
                optimizer.step()
                total += value * len(idx)
                c = _correct(out, yb)
                has_acc = has_acc and c is not None
                correct += c or 0.0
                if bar is not None:
                    bar.update(1)
            if dp is not None:
                total, correct, has_acc = dp.end_epoch(model, total, correct, has_acc)
            history.loss.append(total / n)
            if has_acc:
                history.accuracy.append(correct / n)
            if val is not None:
                model.eval()
                try:
                    v_loss, v_acc = (_evaluate(model, loss, val[0], val[1], batch_size)
                                     if dp is None else
                                     dp.evaluate(_evaluate, model, loss, val[0], val[1],
                                                 batch_size))
                finally:
                    model.train()
                history.val_loss.append(v_loss)
                if v_acc is not None:
                    history.val_accuracy.append(v_acc)
            history.time.append(time.perf_counter() - start)
            history.lr.append(float(lr))
            if bar is not None:
                bar.set_postfix(_postfix(history), refresh=False)
            if schedule is not None and hasattr(schedule, "step"):
                schedule.step()
            stop = False
            for cb in cbs:
                result = (cb.on_epoch_end(epoch, history, model) if isinstance(cb, Callback)
                          else cb(epoch, history))
                stop = stop or bool(result)
            if stop:
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
    for cb in cbs:
        if isinstance(cb, Callback):
            cb.on_train_end(model, history)
    return history


def _postfix(history: History) -> Dict[str, str]:
    out = {"loss": f"{history.loss[-1]:.4f}"}
    if history.accuracy:
        out["acc"] = f"{history.accuracy[-1]:.3f}"
    if history.val_loss:
        out["val_loss"] = f"{history.val_loss[-1]:.4f}"
    if history.val_accuracy:
        out["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
    return out


def _progress_bar(total: int) -> Optional[Any]:
    """A tqdm bar over ``total`` batches on stderr, or None when stderr is not a
    terminal or tqdm is not installed."""
    stream = sys.stderr
    if stream is None or not hasattr(stream, "isatty") or not stream.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="fit", unit="batch", leave=True, file=stream)
