"""NumPy twins of ``fastbp.ops.optim``."""

from __future__ import annotations

import numpy as np


def sgd_update(param, grad, buf, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """One SGD step in place; same formulas and rounding order as the core."""
    t = param.dtype.type
    lr, momentum, weight_decay = t(lr), t(momentum), t(weight_decay)
    g = grad + weight_decay * param if weight_decay != 0 else grad
    if momentum != 0:
        if buf is None:
            raise ValueError("buf (the momentum buffer) is required when momentum != 0, got None")
        buf[...] = momentum * buf + g
        g = g + momentum * buf if nesterov else buf
    param -= lr * g


def l2_penalty_accumulate(grad, w, reg):
    """``grad += reg * w``; returns ``0.5 * reg * sum(w**2)`` in float64."""
    grad += w.dtype.type(reg) * w
    w64 = w.astype(np.float64)
    return 0.5 * float(w.dtype.type(reg)) * float(np.sum(w64 * w64))
