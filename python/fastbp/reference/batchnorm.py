"""Batch normalisation ops and their NumPy twins.

Legend: N batch, C channels; x is (N, C) or (N, C, *spatial), normalised per
channel over N and the spatial axes. The core takes per-channel sums in fixed
chunks, in float64, summed in index order: results do not depend on the thread
count.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from fastbp._optable import op


def _axes(x):
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, C, ...), got shape {x.shape}")
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


@op
def batchnorm_forward(
    x: np.ndarray,
    gamma: Optional[np.ndarray],
    beta: Optional[np.ndarray],
    running_mean: Optional[np.ndarray],
    running_var: Optional[np.ndarray],
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch norm ``y = gamma * (x - mean) * invstd + beta``; returns ``(y, mean, invstd)``.

    ``training``: batch statistics, ``mean`` and the biased ``var`` over every
    axis but 1, ``invstd = 1 / sqrt(var + eps)``; ``running_mean`` and
    ``running_var`` (when given; both or neither) are updated in place as
    PyTorch does: ``r = (1 - momentum) * r + momentum * stat``, with the
    *unbiased* variance (``* M / (M - 1)``, M values per channel).
    Otherwise the running statistics are used (required) and returned as
    ``mean`` and ``1 / sqrt(running_var + eps)``. ``gamma``/``beta`` (C,) may be
    None (no affine transform). Pass the returned ``mean`` and ``invstd`` to
    :func:`batchnorm_backward`.
    """
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


@op
def batchnorm_backward(
    dout: np.ndarray,
    x: np.ndarray,
    mean: np.ndarray,
    invstd: np.ndarray,
    gamma: Optional[np.ndarray],
    gamma_grad: Optional[np.ndarray],
    beta_grad: Optional[np.ndarray],
    *,
    training: bool = True,
) -> np.ndarray:
    """dx of :func:`batchnorm_forward`; adds ``sum(dout * xhat)`` into ``gamma_grad``
    and ``sum(dout)`` into ``beta_grad`` per channel (in place, when not None).

    With ``xhat = (x - mean) * invstd`` and M values per channel::

        training:  dx = gamma * invstd * (dout - mean(dout) - xhat * mean(dout * xhat))
        inference: dx = gamma * invstd * dout          (the statistics are constants)
    """
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
