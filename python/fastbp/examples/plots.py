"""Figures for the training loops (matplotlib, optional).

matplotlib is imported only inside these functions, with the non-interactive
Agg backend, so importing :mod:`fastbp.examples` never needs it. Each function
writes one PNG and returns its path. :func:`available` says whether plotting is
possible at all.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

import numpy as np


def available() -> bool:
    """True when matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "plotting needs matplotlib: pip install 'fastbp[examples]' (or matplotlib)"
        ) from e
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> str:
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_parabola(runs: Mapping[float, Dict[str, Any]], path) -> str:
    """The gradient-descent paths on the parabola, one panel per learning rate."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    for ax, (lr, run) in zip(axes[0], sorted(runs.items(), reverse=True)):
        xs = np.asarray(run["x_path"])
        coeff = run["coeff"]
        span = max(np.max(np.abs(xs)), 1.0) * 1.1
        grid = np.linspace(-span, span, 400)
        ax.plot(grid, coeff * grid**2, color="0.6", lw=1.5, label=f"y = {coeff:g} x²")
        ax.plot(xs, coeff * xs**2, "o-", color="C3" if not run["converged"] else "C0",
                ms=5, lw=1, label="steps")
        for i in _spaced(xs, coeff * xs**2, span):
            ax.annotate(str(i), (xs[i], coeff * xs[i] ** 2), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        verdict = "converges" if run["converged"] else "diverges"
        ax.set_title(f"lr = {lr:g}: {verdict}")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="upper center")
    return _save(fig, path)


def _spaced(xs: np.ndarray, ys: np.ndarray, span: float) -> List[int]:
    """The steps that get a label: in order, each step lying at least 4% of the
    x-axis or 6% of the y-range away from every step labelled before it, so the
    labels of a path converging into the minimum do not overlap."""
    y_span = max(float(np.max(ys)), 1e-12)
    chosen: List[int] = []
    for i in range(len(xs)):
        if all(abs(xs[i] - xs[j]) > 0.08 * span or abs(ys[i] - ys[j]) > 0.06 * y_span
               for j in chosen):
            chosen.append(i)
    return chosen


def _line(w: float, b: float, fmt: str) -> str:
    sign = "-" if b < 0 else "+"
    return f"{w:{fmt}} x {sign} {abs(b):{fmt}}"


def plot_regression(result: Dict[str, Any], path) -> str:
    """The data and the fitted line before (w = b = 0) and after training."""
    plt = _pyplot()
    X, y = result["data"]
    x = np.asarray(X).ravel()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(x, np.asarray(y).ravel(), s=6, alpha=0.35, color="0.4", label="data")
    grid = np.array([x.min(), x.max()])
    for key, style, label in (("initial_params", "--", "before"), ("params", "-", "after")):
        w, b = float(result[key]["w"]), float(result[key]["b"])
        ax.plot(grid, w * grid + b, style, lw=2, label=f"{label}: y = {_line(w, b, '.3f')}")
    true = result.get("true_params")
    if true:
        ax.plot(grid, true["w"] * grid + true["b"], ":", color="k", lw=1,
                label=f"true: y = {_line(true['w'], true['b'], 'g')}")
    ax.set_title(f"Linear regression, per-sample SGD (lr = {result.get('lr', float('nan')):g})")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    return _save(fig, path)


def plot_decision_boundary(result: Dict[str, Any], path, title: Optional[str] = None) -> str:
    """The classifier's predicted class over the plane, with the training points."""
    plt = _pyplot()
    model = result["model"]
    X, y = result["data"]
    X = np.asarray(X)
    pad = 0.2
    x_min, x_max = X[:, 0].min() - pad, X[:, 0].max() + pad
    y_min, y_max = X[:, 1].min() - pad, X[:, 1].max() + pad
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, 300), np.linspace(y_min, y_max, 300))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(X.dtype)
    scores = model(grid)
    zz = np.argmax(scores, axis=1).reshape(xx.shape)
    y = np.asarray(y)
    n_classes = max(int(scores.shape[1]), int(y.max()) + 1)
    colours = plt.get_cmap("Spectral")(np.linspace(0.0, 1.0, n_classes))
    from matplotlib.colors import ListedColormap

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(xx, yy, zz, levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colours), alpha=0.45)
    for k in range(n_classes):
        mine = y == k
        ax.scatter(X[mine, 0], X[mine, 1], color=colours[k], s=14, edgecolors="k",
                   linewidths=0.3, label=f"class {k}")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("$x_1$ (feature 0)")
    ax.set_ylabel("$x_2$ (feature 1)")
    ax.legend(title="points (shading: prediction)", loc="upper right", fontsize=8,
              title_fontsize=8)
    name = title or result.get("name", "classifier")
    acc = result.get("accuracy")
    ax.set_title(f"{name}: accuracy {acc:.1%}" if acc is not None else name)
    return _save(fig, path)


def plot_loss_curves(results: Mapping[str, Dict[str, Any]], path) -> str:
    """One panel per result with a non-empty ``loss_history``, titled with its
    name (log scale when the losses span more than two decades); a result that
    compares runs (the optimizers, the parabola's learning rates) draws each
    run's curve, with a legend."""
    plt = _pyplot()
    items: List = [(k, r) for k, r in results.items() if len(r.get("loss_history", [])) > 0]
    if not items:
        raise ValueError("plot_loss_curves: no result has a loss_history to plot")
    cols = min(3, len(items))
    rows = (len(items) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(items):]:
        ax.axis("off")
    for ax, (name, r) in zip(axes.ravel(), items):
        curves = _curves(r)
        if r.get("loss_per_sample") and curves[0][1].size > 200:  # noisy: a running mean
            k = max(1, curves[0][1].size // 100)
            curves = [(label, np.convolve(h, np.ones(k) / k, mode="valid"))
                      for label, h in curves]
            name = f"{name} (running mean of {k})"
        for label, h in curves:
            ax.plot(np.arange(h.size), h, lw=1.2, label=label)
        every = np.concatenate([h for _, h in curves])
        finite = every[np.isfinite(every) & (every > 0)]
        if finite.size and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if len(curves) > 1:
            ax.legend(fontsize=8)
    return _save(fig, path)


def _curves(result: Dict[str, Any]) -> List:
    """The loss curves of one result, ``[(label, array)]``: one per optimizer of
    a comparison, one per learning rate of the parabola, else the one curve."""
    if isinstance(result.get("histories"), Mapping):
        return [(str(k), np.asarray(v, dtype=np.float64))
                for k, v in result["histories"].items()]
    runs = result.get("runs")
    if isinstance(runs, Mapping) and all("loss_history" in r for r in runs.values()):
        return [(f"lr {lr:g}", np.asarray(r["loss_history"], dtype=np.float64))
                for lr, r in sorted(runs.items())]
    return [("loss", np.asarray(result["loss_history"], dtype=np.float64))]


def plot_result(result: Dict[str, Any], path) -> str:
    """The natural figure for one example's result: the parabola paths, the
    regression lines, a classifier's decision boundary, or its loss curve.
    Returns the path of that figure (``path``, or ``<stem>_curves`` next to it
    for the CNN); :func:`plot_result_files` also returns the companion figures
    some examples write."""
    return plot_result_files(result, path)[0]


def plot_result_files(result: Dict[str, Any], path) -> List[str]:
    """Like :func:`plot_result`, but returns every file written, the main figure
    first: the CNN writes ``<stem>_curves``, ``<stem>_filters`` and
    ``<stem>_misclassified`` next to ``path``, the optimizer comparison ``path``
    and ``<stem>_init``."""
    if "predictions" in result and "test_data" in result:  # a CNN: curves, filters, mistakes
        from fastbp.examples.cnn import plot_cnn

        stem = os.path.splitext(os.path.basename(str(path)))[0]
        written = plot_cnn(result, os.path.dirname(str(path)) or ".", prefix=stem)
        return [written["curves"]] + [p for key, p in written.items() if key != "curves"]
    if "histories" in result and "activations" in result:  # the optimizer comparison
        from fastbp.examples.optimizers import plot_inits, plot_optimizers

        stem, ext = os.path.splitext(str(path))
        main = plot_optimizers(result["histories"], str(path))
        init = plot_inits(result["activations"], result["init_histories"],
                          f"{stem}_init{ext or '.png'}")
        return [main, init]
    return [_plot_single(result, path)]


def _plot_single(result: Dict[str, Any], path) -> str:
    """The one figure of the examples that write a single file."""
    if "graph" in result:  # the gates: the apple example's computational graph
        from fastbp.graph import draw

        draw(result["graph"], path)
        return os.fspath(path)
    if "runs" in result and all("x_path" in r for r in result["runs"].values()):
        return plot_parabola(result["runs"], path)
    if "x_path" in result:
        return plot_parabola({result["lr"]: result}, path)
    if "initial_params" in result and "data" in result:
        return plot_regression(result, path)
    if "model" in result and "data" in result and "accuracy" in result:
        return plot_decision_boundary(result, path)
    if len(result.get("loss_history", [])) > 0:
        return plot_loss_curves({result.get("name", "loss"): result}, path)
    raise ValueError(f"{result.get('name', 'this example')}: nothing to plot")
