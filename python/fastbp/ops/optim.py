"""Optimizer updates and weight penalties, fused in one pass per parameter.

Legend: every array has the parameter's shape and dtype. Arrays updated in
place must be writable and C-contiguous (they are never silently copied);
violations raise ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from fastbp import _core


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    buf: Optional[np.ndarray],
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None:
    """One SGD step in place, with PyTorch's formulas (dampening 0)::

        g = grad + weight_decay * param          (skipped when weight_decay == 0)
        if momentum != 0:
            buf = momentum * buf + g             (in place)
            g = g + momentum * buf if nesterov else buf
        param -= lr * g                          (in place)

    ``buf`` (the momentum buffer, start it at zeros) is required when
    ``momentum != 0`` and ignored otherwise (may be None). ``grad`` must be
    C-contiguous but may be read-only. Scalars are rounded to the arrays' dtype
    and all arithmetic is done in it. Returns None.
    """
    _core.sgd_update(
        param, grad, buf, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


def l2_penalty_accumulate(grad: np.ndarray, w: np.ndarray, reg: float) -> float:
    """``grad += reg * w`` in place; returns ``0.5 * reg * sum(w**2)`` (summed in float64).

    The CS231n L2 regularisation of one weight array, loss and gradient in one pass.
    """
    return _core.l2_penalty_accumulate(grad, w, reg)
