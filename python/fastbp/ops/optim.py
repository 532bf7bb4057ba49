"""Optimizer updates and weight penalties, fused in one pass per parameter.

Legend: every array has the parameter's shape and dtype. Arrays updated in
place must be writable and C-contiguous (they are never silently copied);
violations raise ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import Optional, Sequence

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


def sgd_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    bufs: Optional[Sequence[np.ndarray]],
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None:
    """:func:`sgd_update` on each ``(params[i], grads[i], bufs[i])`` in one call.

    Lists (or tuples) of equal length; ``bufs`` may be None when ``momentum == 0``.
    Every array is checked before any is updated, so an error leaves all of them
    unchanged. This is what :class:`fastbp.optim.SGD` does each step: one call into
    the core instead of one per parameter.
    """
    _core.sgd_update_many(
        params, grads, bufs, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


def l2_penalty_accumulate(grad: np.ndarray, w: np.ndarray, reg: float) -> float:
    """``grad += reg * w`` in place; returns ``0.5 * reg * sum(w**2)`` (summed in float64).

    The CS231n L2 regularisation of one weight array, loss and gradient in one pass.
    """
    return _core.l2_penalty_accumulate(grad, w, reg)


def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    sum: np.ndarray,
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
) -> None:
    """One AdaGrad step in place (``torch.optim.Adagrad``), ``step`` t >= 1::

        clr = lr / (1 + (t - 1) * lr_decay)
        g = grad + weight_decay * param          (skipped when weight_decay == 0)
        sum += g * g                             (in place; start it at initial_accumulator_value)
        param -= clr * g / (sqrt(sum) + eps)     (in place)
    """
    _core.adagrad_update(
        param, grad, sum, step=step, lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay
    )


def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: Optional[np.ndarray] = None,
    buf: Optional[np.ndarray] = None,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> None:
    """One RMSprop step in place (``torch.optim.RMSprop``)::

        g = grad + weight_decay * param
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        centered: grad_avg = alpha * grad_avg + (1 - alpha) * g
                  avg = sqrt(square_avg - grad_avg**2) + eps
        else:     avg = sqrt(square_avg) + eps
        momentum != 0: buf = momentum * buf + g / avg;  param -= lr * buf
        else:          param -= lr * g / avg

    ``grad_avg`` is required when ``centered``, ``buf`` when ``momentum != 0``
    (start both, and ``square_avg``, at zeros); otherwise they may be None.
    """
    _core.rmsprop_update(
        param, grad, square_avg, grad_avg, buf, lr=lr, alpha=alpha, eps=eps,
        weight_decay=weight_decay, momentum=momentum, centered=centered,
    )


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: Optional[np.ndarray] = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    """One Adam step in place (``torch.optim.Adam``; ``torch.optim.AdamW`` when
    ``decoupled_weight_decay``), ``step`` t >= 1::

        AdamW: param *= 1 - lr * weight_decay;   Adam: g = grad + weight_decay * param
        exp_avg    = beta1 * exp_avg    + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
        amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), used for v below
        param -= lr / (1 - beta1**t) * exp_avg / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    The bias corrections are computed in float64 and rounded to the arrays'
    dtype once. ``max_exp_avg_sq`` is required when ``amsgrad``.
    """
    _core.adam_update(
        param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step=step, lr=lr, beta1=beta1,
        beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
        decoupled_weight_decay=decoupled_weight_decay,
    )


def adagrad_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    sums: Sequence[np.ndarray],
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
) -> None:
    """:func:`adagrad_update` on each ``(params[i], grads[i], sums[i])`` in one call;
    every array is checked before any is updated (as :func:`sgd_update_many`)."""
    _core.adagrad_update_many(
        params, grads, sums, step=step, lr=lr, lr_decay=lr_decay, eps=eps,
        weight_decay=weight_decay,
    )


def rmsprop_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    square_avgs: Sequence[np.ndarray],
    grad_avgs: Optional[Sequence[np.ndarray]] = None,
    bufs: Optional[Sequence[np.ndarray]] = None,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> None:
    """:func:`rmsprop_update` on each entry of the lists in one call; ``grad_avgs``
    may be None unless ``centered``, ``bufs`` unless ``momentum != 0``. Every array
    is checked before any is updated."""
    _core.rmsprop_update_many(
        params, grads, square_avgs, grad_avgs, bufs, lr=lr, alpha=alpha, eps=eps,
        weight_decay=weight_decay, momentum=momentum, centered=centered,
    )


def adam_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    max_exp_avg_sqs: Optional[Sequence[np.ndarray]] = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    """:func:`adam_update` on each entry of the lists in one call (what
    :class:`fastbp.optim.Adam` and ``AdamW`` do each step); ``max_exp_avg_sqs``
    may be None unless ``amsgrad``. Every array is checked before any is updated."""
    _core.adam_update_many(
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step=step, lr=lr, beta1=beta1,
        beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
        decoupled_weight_decay=decoupled_weight_decay,
    )
