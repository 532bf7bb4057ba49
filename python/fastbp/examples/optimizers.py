"""Optimizer and weight-initialisation comparisons ("Deep Learning from Scratch"
chapter 6, CS231n's "Neural Networks part 3").

:func:`optimizers` trains the same MLP on the spiral data with SGD, Momentum,
AdaGrad, RMSprop and Adam (PyTorch's default learning rates: 0.01, 0.01 with
momentum 0.9, 0.01, 0.01, 0.001) for the same number of minibatch steps from
the same initial weights and batches, and records each loss curve. With this
budget the adaptive methods end well below plain SGD.

It then repeats the book's weight-initialisation experiment: the activations
of a 5-layer, 100-unit ReLU net on Gaussian input, with weights drawn with std
0.01, Xavier (``sqrt(1 / fan_in)``) and He (``sqrt(2 / fan_in)``). With 0.01
the activations shrink towards 0 layer after layer (and so do the gradients);
He keeps their spread. A deep spiral MLP trained with plain SGD under each
initialisation shows the consequence on learning speed.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from fastbp import losses, nn, optim
from fastbp.data import spiral

#: The compared optimizers: name -> factory over a parameter list.
OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.01),
    "Momentum": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9),
    "AdaGrad": lambda ps: optim.AdaGrad(ps, lr=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01),
    "Adam": lambda ps: optim.Adam(ps, lr=0.001),
}

#: The compared initialisations: name -> ``init`` argument of :class:`fastbp.nn.Linear`.
INITS: Dict[str, Union[str, float]] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}


#: The deep net of the initialisation comparison (4 hidden ReLU layers).
DEEP_SIZES = [2, 50, 50, 50, 50, 3]


def _mlp(sizes: List[int], init: Union[str, float], seed: int) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, init=init, rng=seed + i))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _train(model: nn.Module, opt: optim.Optimizer, X: np.ndarray, y: np.ndarray, steps: int,
           batch_size: int, seed: int) -> np.ndarray:
    """``steps`` minibatch steps; the batches depend only on ``seed``."""
    loss = losses.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    history = np.empty(steps)
    order = rng.permutation(len(X))
    pos = 0
    for step in range(steps):
        if pos + batch_size > len(X):
            order, pos = rng.permutation(len(X)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        opt.zero_grad()
        history[step] = loss(model(X[idx]), y[idx])
        model.backward(loss.backward())
        opt.step()
    return history


def _accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model(X), axis=1) == y))


def activation_histograms(init: Union[str, float], *, layers: int = 5, width: int = 100,
                          samples: int = 1000, seed: int = 0) -> List[np.ndarray]:
    """The activations of each layer of a ReLU net on standard-normal input
    (the book's experiment): a list of ``layers`` arrays of shape (samples, width)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, width)).astype(np.float32)
    out = []
    for i in range(layers):
        x = nn.ReLU()(nn.Linear(width, width, init=init, rng=seed + 1 + i)(x))
        out.append(x)
    return out


def optimizers(
    seed: int = 0,
    steps: int = 300,
    batch_size: int = 32,
    init_steps: int = 300,
    plot: Optional[str] = None,
    quiet: bool = True,
) -> Dict[str, Any]:
    """Compares SGD, Momentum, AdaGrad, RMSprop and Adam, and 0.01 / Xavier / He init.

    Args:
        seed: data, initial weights and batch order.
        steps: minibatch steps per optimizer (a 2-100-100-3 ReLU net).
        batch_size: rows per step.
        init_steps: plain-SGD steps (lr 0.05) per initialisation on a deeper
            2-50-50-50-50-3 ReLU net.
        plot: when given, the loss curves are written there (PNG) and the
            initialisation figure (activation histograms and loss curves) next to
            it as ``<stem>_init<ext>``; needs matplotlib.
        quiet: no printed table.

    Returns a dict: ``loss_history`` (Adam's curve), ``histories`` and
    ``init_histories`` (name -> per-step loss arrays), ``final_losses`` (mean
    of the last 10% of steps, per optimizer), ``accuracies`` (training accuracy
    per optimizer), ``accuracy`` (Adam's), ``activation_std`` (init -> std of
    each layer's activations), ``activations`` (init -> list of per-layer
    arrays), ``plots`` (paths written), ``summary``, ``time_s``.
    """
    start = time.perf_counter()
    X, y = spiral(seed=seed)
    sizes = [2, 100, 100, 3]
    histories: Dict[str, np.ndarray] = {}
    accuracies: Dict[str, float] = {}
    for name, make in OPTIMIZERS.items():
        model = _mlp(sizes, "he", seed)  # the same initial weights for every optimizer
        histories[name] = _train(model, make(model.parameters()), X, y, steps, batch_size,
                                 seed)
        accuracies[name] = _accuracy(model, X, y)
    tail = max(1, steps // 10)
    final = {k: float(np.mean(v[-tail:])) for k, v in histories.items()}

    activations = {k: activation_histograms(v, seed=seed) for k, v in INITS.items()}
    activation_std = {k: [float(a.std()) for a in v] for k, v in activations.items()}
    init_histories: Dict[str, np.ndarray] = {}
    for name, init in INITS.items():
        model = _mlp(DEEP_SIZES, init, seed)
        init_histories[name] = _train(model, optim.SGD(model.parameters(), lr=0.05), X, y,
                                      init_steps, batch_size, seed)
    seconds = time.perf_counter() - start

    plots: List[str] = []
    if plot is not None:
        plots.append(plot_optimizers(histories, plot))
        stem, ext = os.path.splitext(plot)
        plots.append(plot_inits(activations, init_histories, f"{stem}_init{ext or '.png'}"))
    summary = " | ".join(f"{k} {v:.3f}" for k, v in final.items())
    if not quiet:
        print(f"final loss after {steps} steps: {summary}")
        print("activation std per layer: " + " | ".join(
            f"{k} " + ", ".join(f"{s:.2g}" for s in v) for k, v in activation_std.items()))
    return {
        "name": "optimizers",
        "loss_history": histories["Adam"],
        "final_loss": final["Adam"],
        "accuracy": accuracies["Adam"],
        "histories": histories,
        "final_losses": final,
        "accuracies": accuracies,
        "init_histories": init_histories,
        "activations": activations,
        "activation_std": activation_std,
        "plots": plots,
        "summary": "final loss " + summary,
        "time_s": seconds,
    }


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'fastbp[examples]'") from e
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _smooth(v: np.ndarray, k: int = 10) -> np.ndarray:
    if len(v) < k:
        return v
    return np.convolve(v, np.ones(k) / k, mode="valid")


def plot_optimizers(histories: Dict[str, np.ndarray], path: str) -> str:
    """One axis: each optimizer's loss curve (moving average of 10 steps, log scale)."""
    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for name, h in histories.items():
        ax.plot(_smooth(h), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (moving average)")
    ax.set_title("Optimizers on the spiral MLP, same start and batches")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_inits(activations: Dict[str, List[np.ndarray]], init_histories: Dict[str, np.ndarray],
               path: str) -> str:
    """A row of per-layer activation histograms per initialisation, and their loss curves."""
    rows, cols = len(activations), len(next(iter(activations.values())))
    fig = _figure(3 * cols + 4, 2.2 * rows + 0.6)
    grid = fig.add_gridspec(rows, cols + 2)
    for r, (name, acts) in enumerate(activations.items()):
        # ReLU zeroes about half of the units; the histograms show the others,
        # on one x-range per row so the layers of one initialisation compare.
        positive = [a[a > 0] for a in acts]
        top = max(float(np.percentile(p, 99)) if p.size else 0.0 for p in positive) or 1.0
        for c, p in enumerate(positive):
            ax = fig.add_subplot(grid[r, c])
            ax.hist(p, bins=30, range=(0, top))
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(f"layer {c + 1}")
            if r == rows - 1:
                ax.set_xlabel("activation value", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{name}\ncount (activations > 0)", fontsize=8)
    ax = fig.add_subplot(grid[:, cols:])
    for name, h in init_histories.items():
        ax.plot(_smooth(h), label=name)
    ax.set_xlabel("step (SGD)")
    ax.set_ylabel("training loss")
    ax.set_title("Deep spiral MLP by initialisation")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
