"""Gradient descent on a parabola: the learning-rate lesson.

Minimise ``y = coeff * x**2`` (minimum at x = 0) with ``x <- x - lr * dy/dx``.
Since ``dy/dx = 2 coeff x``, one step multiplies x by ``1 - 2 coeff lr``: with
coeff 1.2, lr = 0.2 shrinks x by 0.52 a step (converges), lr = 1.0 multiplies
it by -1.4 (each step overshoots the minimum further: diverges). Any
lr > 1 / coeff diverges.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from fastbp.examples._common import Stopwatch, check_positive_int, check_real
from fastbp.examples.progress import steps as progress_steps
from fastbp.graph import Value


def _forward(x: float, coeff: float) -> Tuple[Value, Value]:
    xv = Value(x)
    return coeff * xv**2, xv


def parabola_gd(
    lr: float, steps: int = 5, x0: float = 3.0, coeff: float = 1.2, *, progress: bool = False
) -> Dict[str, Any]:
    """Plain gradient descent on ``y = coeff * x**2`` from ``x0``.

    The derivative comes from the scalar autograd graph (:class:`fastbp.graph.Value`).
    Returns a dict: ``x_path`` (steps + 1 positions, x0 first), ``loss_history``
    (y at each position), ``params`` ``{"x": final x}``, ``lr``,
    ``converged`` (|x| shrank), ``time_s``, ``summary``.
    """
    lr = check_real(lr, "lr", positive=True)
    steps = check_positive_int(steps, "steps", minimum=0)
    x = check_real(x0, "x0")
    coeff = check_real(coeff, "coeff", positive=True)
    path = [x]
    losses = []
    with Stopwatch() as sw:
        for _ in progress_steps(steps, f"parabola lr={lr:g}", progress):
            y, xv = _forward(x, coeff)
            y.backward()
            losses.append(y.data)
            x = x - lr * xv.grad
            path.append(x)
        losses.append(_forward(x, coeff)[0].data)
    x_path = np.array(path)
    return {
        "name": "parabola_gd",
        "lr": lr,
        "coeff": coeff,
        "x_path": x_path,
        "loss_history": np.array(losses),
        "params": {"x": np.array(x)},
        "converged": bool(abs(x) < abs(path[0])),
        "time_s": sw.seconds,
        "summary": f"lr={lr:g}: x {path[0]:g} -> {x:.4g}",
    }


def parabola_lesson(steps: int = 5, x0: float = 3.0, coeff: float = 1.2, *,
                    progress: bool = False) -> Dict[str, Any]:
    """Gradient descent on y = 1.2 x^2 with lr 1.0 (diverges) and lr 0.2 (converges).

    Returns the converging run's dict with both runs under ``runs``
    (keyed by learning rate) and a summary of both.
    """
    runs = {lr: parabola_gd(lr, steps, x0, coeff, progress=progress) for lr in (1.0, 0.2)}
    result = dict(runs[0.2])
    result["name"] = "parabola"
    result["runs"] = runs
    result["time_s"] = sum(r["time_s"] for r in runs.values())
    bad, good = runs[1.0], runs[0.2]
    result["summary"] = (
        f"x {x0:g} -> {good['params']['x']:.3g} (lr 0.2), -> {bad['params']['x']:.4g} (lr 1.0)"
    )
    return result
