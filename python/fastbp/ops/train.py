"""Training-layer ops: batch normalisation, inverted dropout, multiclass hinge loss.

Legend: N batch, C channels (or classes), S = H * W positions; batch norm's x
is (N, C) or (N, C, *spatial), normalised per channel over N and the spatial
axes. Per-channel sums are taken in fixed chunks, in float64, summed in index
order: results do not depend on the thread count.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from fastbp import _core


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
    return _core.batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                   training=training, momentum=momentum, eps=eps)


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
    return _core.batchnorm_backward(dout, x, mean, invstd, gamma, gamma_grad, beta_grad,
                                    training=training)


def dropout_forward(x: np.ndarray, p: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: returns ``(x * mask, mask)`` with ``mask`` 0 (probability
    ``p``) or ``1 / (1 - p)``, of x's shape and dtype; ``p == 1`` drops everything.

    Element i's draw is a hash of ``(seed, i)`` (splitmix64), so one seed gives
    one mask, for any thread count; ``seed`` is an int in ``[0, 2**64)``.
    """
    return _core.dropout_forward(x, p, seed)


def dropout_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``dout * mask``: the gradient flows through the kept elements, scaled alike."""
    return _core.dropout_backward(dout, mask)


def multi_margin_loss(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    p: int = 1,
    margin: float = 1.0,
    reduction: str = "mean",
) -> Tuple[float, np.ndarray]:
    """Multiclass hinge loss (PyTorch's ``MultiMarginLoss``); returns ``(loss, dscores)``.

    Per row: ``sum over j != y of max(0, margin - s_y + s_j)**p / C``; the mean
    over the batch (``reduction="mean"``) or the sum. ``dscores`` is the gradient
    of the returned loss (zero at the kink). Labels outside ``[0, C)`` raise
    ``ValueError`` before any work.
    """
    loss, dscores = _core.multi_margin_loss(scores, labels, p=p, margin=margin,
                                            reduction=reduction)
    return float(loss), dscores
