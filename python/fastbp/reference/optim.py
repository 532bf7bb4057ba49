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


def sgd_update_many(params, grads, bufs, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """:func:`sgd_update` on each ``(params[i], grads[i], bufs[i])``."""
    if len(params) != len(grads):
        raise ValueError("params and grads must have the same length")
    if bufs is None:
        bufs = [None] * len(params)
    for param, grad, buf in zip(params, grads, bufs):
        sgd_update(param, grad, buf, lr=lr, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay)


def l2_penalty_accumulate(grad, w, reg):
    """``grad += reg * w``; returns ``0.5 * reg * sum(w**2)`` in float64."""
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


def adagrad_update(param, grad, sum, *, step, lr=1e-2, lr_decay=0.0, eps=1e-10,
                   weight_decay=0.0):
    """One AdaGrad step in place; same formulas and rounding order as the core."""
    t = param.dtype.type
    clr = t(lr / (1.0 + (_step(step) - 1) * lr_decay))
    g = grad + t(weight_decay) * param if weight_decay != 0 else grad
    sum[...] = sum + g * g
    param -= clr * g / (np.sqrt(sum) + t(eps))


def rmsprop_update(param, grad, square_avg, grad_avg=None, buf=None, *, lr=1e-2, alpha=0.99,
                   eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """One RMSprop step in place; same formulas and rounding order as the core."""
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


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr=1e-3,
                beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                decoupled_weight_decay=False):
    """One Adam / AdamW step in place; same formulas and rounding order as the core."""
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


def adagrad_update_many(params, grads, sums, *, step, **hyper):
    """:func:`adagrad_update` on each entry of the lists."""
    for param, grad, s in _entries(params, grads, sums):
        adagrad_update(param, grad, s, step=step, **hyper)


def rmsprop_update_many(params, grads, square_avgs, grad_avgs=None, bufs=None, **hyper):
    """:func:`rmsprop_update` on each entry of the lists."""
    for param, grad, sq, ga, buf in _entries(params, grads, square_avgs, grad_avgs, bufs):
        rmsprop_update(param, grad, sq, ga, buf, **hyper)


def adam_update_many(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step,
                     **hyper):
    """:func:`adam_update` on each entry of the lists."""
    for param, grad, m, v, vmax in _entries(params, grads, exp_avgs, exp_avg_sqs,
                                            max_exp_avg_sqs):
        adam_update(param, grad, m, v, vmax, step=step, **hyper)
