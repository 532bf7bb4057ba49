"""Optimizer updates and weight penalties and their NumPy twins.

Legend: every array has the parameter's shape and dtype. Arrays updated in
place must be writable and C-contiguous (the ops never silently copy them);
violations raise ``ValueError``/``TypeError`` naming the argument. The twins
follow the core's formulas and rounding order.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from fastbp._optable import op


@op
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
    # The same formulas and rounding order as the core.
    t = param.dtype.type
    lr, momentum, weight_decay = t(lr), t(momentum), t(weight_decay)
    g = grad + weight_decay * param if weight_decay != 0 else grad
    if momentum != 0:
        if buf is None:
            raise ValueError("buf (the momentum buffer) is required when momentum != 0, got None")
        buf[...] = momentum * buf + g
        g = g + momentum * buf if nesterov else buf
    param -= lr * g


@op
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
    if len(params) != len(grads):
        raise ValueError("params and grads must have the same length")
    if bufs is None:
        bufs = [None] * len(params)
    for param, grad, buf in zip(params, grads, bufs):
        sgd_update(param, grad, buf, lr=lr, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay)


@op
def l2_penalty_accumulate(grad: np.ndarray, w: np.ndarray, reg: float) -> float:
    """``grad += reg * w`` in place; returns ``0.5 * reg * sum(w**2)`` (summed in float64).

    The CS231n L2 regularisation of one weight array, loss and gradient in one pass.
    """
    grad += w.dtype.type(reg) * w
    w64 = w.astype(np.float64)
    return 0.5 * float(w.dtype.type(reg)) * float(np.sum(w64 * w64))


def _need(arr, name, why):
    if arr is None:
        raise ValueError(f"{name} is required when {why}, got None")
    return arr


def _step(step):
    if step < 1:
        raise ValueError(f"step must be >= 1 (the step being taken), got {step}")
    return step


@op
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
    # The same formulas and rounding order as the core.
    t = param.dtype.type
    clr = t(lr / (1.0 + (_step(step) - 1) * lr_decay))
    g = grad + t(weight_decay) * param if weight_decay != 0 else grad
    sum[...] = sum + g * g
    param -= clr * g / (np.sqrt(sum) + t(eps))


@op
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
    # The same formulas and rounding order as the core.
    t = param.dtype.type
    alpha_t = t(alpha)
    one_minus_alpha = t(1) - alpha_t
    g = grad + t(weight_decay) * param if weight_decay != 0 else grad
    square_avg[...] = alpha_t * square_avg + one_minus_alpha * g * g
    if centered:
        ga = _need(grad_avg, "grad_avg", "centered")
        ga[...] = alpha_t * ga + one_minus_alpha * g
        avg = np.sqrt(square_avg - ga * ga) + t(eps)
    else:
        avg = np.sqrt(square_avg) + t(eps)
    if momentum != 0:
        b = _need(buf, "buf", "momentum != 0")
        b[...] = t(momentum) * b + g / avg
        param -= t(lr) * b
    else:
        param -= t(lr) * g / avg


@op
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
    # The same formulas and rounding order as the core.
    t = param.dtype.type
    step = _step(step)
    step_size = t(lr / (1.0 - beta1 ** step))
    bc2_sqrt = t(np.sqrt(1.0 - beta2 ** step))
    if weight_decay != 0 and decoupled_weight_decay:
        param *= t(1.0 - lr * weight_decay)
    g = grad + t(weight_decay) * param if weight_decay != 0 and not decoupled_weight_decay \
        else grad
    exp_avg[...] = t(beta1) * exp_avg + t(1.0 - beta1) * g
    exp_avg_sq[...] = t(beta2) * exp_avg_sq + t(1.0 - beta2) * g * g
    v = exp_avg_sq
    if amsgrad:
        vmax = _need(max_exp_avg_sq, "max_exp_avg_sq", "amsgrad")
        np.maximum(vmax, exp_avg_sq, out=vmax)
        v = vmax
    param -= step_size * exp_avg / (np.sqrt(v) / bc2_sqrt + t(eps))


def _entries(params, *lists):
    """Per parameter, its entry of each list (None for a list given as None)."""
    for lst in lists:
        if lst is not None and len(lst) != len(params):
            raise ValueError("every list must have as many entries as params")
    columns = [lst if lst is not None else [None] * len(params) for lst in lists]
    return zip(params, *columns)


@op
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
    for param, grad, s in _entries(params, grads, sums):
        adagrad_update(param, grad, s, step=step, lr=lr, lr_decay=lr_decay, eps=eps,
                       weight_decay=weight_decay)


@op
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
    for param, grad, sq, ga, buf in _entries(params, grads, square_avgs, grad_avgs, bufs):
        rmsprop_update(param, grad, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)


@op
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
    for param, grad, m, v, vmax in _entries(params, grads, exp_avgs, exp_avg_sqs,
                                            max_exp_avg_sqs):
        adam_update(param, grad, m, v, vmax, step=step, lr=lr, beta1=beta1, beta2=beta2,
                    eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                    decoupled_weight_decay=decoupled_weight_decay)
