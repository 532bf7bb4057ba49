"""NumPy twins of ``fastbp.ops.train``."""

from __future__ import annotations

import numpy as np


def _axes(x):
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, C, ...), got shape {x.shape}")
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, training, momentum=0.1,
                      eps=1e-5):
    """Batch norm over all axes but 1; returns ``(y, mean, invstd)``."""
    axes = _axes(x)
    t = x.dtype.type
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be arrays or both None")
    if training:
        m = x.size // x.shape[1] if x.shape[1] else 0
        if m <= 1:
            raise ValueError(f"batchnorm: training needs more than 1 value per channel, "
                             f"got x {x.shape}")
        x64 = x.astype(np.float64)
        mean64 = x64.mean(axis=axes)
        var64 = ((x64 - _per_channel(mean64, x)) ** 2).mean(axis=axes)
        mean = mean64.astype(t)
        invstd = (1.0 / np.sqrt(var64 + eps)).astype(t)
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean.astype(np.float64) + momentum * mean64
            running_var[...] = ((1 - momentum) * running_var.astype(np.float64)
                                + momentum * var64 * m / (m - 1))
    else:
        if running_mean is None:
            raise ValueError("batchnorm: inference (training=False) needs running_mean and "
                             "running_var, got None")
        mean = running_mean.copy()
        invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(t)
    y = (x - _per_channel(mean, x)) * _per_channel(invstd, x)
    if gamma is not None:
        y = y * _per_channel(gamma, x)
    if beta is not None:
        y = y + _per_channel(beta, x)
    return y.astype(t), mean, invstd


def batchnorm_backward(dout, x, mean, invstd, gamma, gamma_grad, beta_grad, *, training=True):
    """dx of batch norm; accumulates dgamma / dbeta into the given buffers."""
    axes = _axes(x)
    t = x.dtype.type
    xhat64 = (x.astype(np.float64) - _per_channel(mean.astype(np.float64), x)) * \
        _per_channel(invstd.astype(np.float64), x)
    d64 = dout.astype(np.float64)
    dbeta = d64.sum(axis=axes)
    dgamma = (d64 * xhat64).sum(axis=axes)
    if gamma_grad is not None:
        gamma_grad += dgamma.astype(t)
    if beta_grad is not None:
        beta_grad += dbeta.astype(t)
    g = np.ones(x.shape[1]) if gamma is None else gamma.astype(np.float64)
    scale = _per_channel(g * invstd.astype(np.float64), x)
    if not training:
        return (scale * d64).astype(t)
    m = x.size // x.shape[1]
    dx = scale * (d64 - _per_channel(dbeta / m, x) - xhat64 * _per_channel(dgamma / m, x))
    return dx.astype(t)


_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _splitmix64(z):
    """splitmix64 on uint64 arrays (wrapping arithmetic), as the core computes it."""
    z = (z + np.uint64(_GOLDEN)) & np.uint64(_MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_forward(x, p, seed):
    """Inverted dropout with the core's counter-based draws; returns ``(out, mask)``."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    with np.errstate(over="ignore"):
        base = _splitmix64(np.array(seed, dtype=np.uint64))
        idx = np.arange(x.size, dtype=np.uint64)
        bits = _splitmix64(base + idx * np.uint64(_GOLDEN))
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    scale = x.dtype.type(1.0 / (1.0 - p)) if p < 1 else x.dtype.type(0)
    mask = np.where(u >= p, scale, x.dtype.type(0)).astype(x.dtype).reshape(x.shape)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def multi_margin_loss(scores, labels, *, p=1, margin=1.0, reduction="mean"):
    """Multiclass hinge loss and its gradient, written with whole-array NumPy."""
    n, c = scores.shape
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(f"labels outside [0, {c})")
    rows = np.arange(n)
    z = margin - scores[rows, labels][:, None] + scores
    z[rows, labels] = 0
    active = z > 0
    term = np.where(active, z if p == 1 else z * z, 0)
    scale = 1.0 / n if reduction == "mean" else 1.0
    loss = float(term.astype(np.float64).sum() / c * scale)
    dz = np.where(active, 1.0 if p == 1 else 2.0 * z, 0.0) * (scale / c)
    dscores = dz.astype(scores.dtype)
    dscores[rows, labels] = -dz.sum(axis=1)
    return loss, dscores
