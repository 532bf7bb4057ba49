"""Loss ops and their NumPy twins: softmax cross-entropy and the multiclass hinge loss.

Shapes: N batch, C classes; labels are integers in [0, C).
"""

from __future__ import annotations

from typing import Tuple


import numpy as np

from fastbp._optable import op


@op
def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient, fused in one pass.

    scores (N, C) float, labels (N,) integers in [0, C) -> (loss, dscores (N, C)),
    dscores already divided by N. Stable for logits of any magnitude.
    """
    n = scores.shape[0]
    if n == 0:
        raise ValueError("softmax_cross_entropy: empty batch (N = 0)")
    labels = np.asarray(labels)
    if labels.shape != (n,) or np.any(labels < 0) or np.any(labels >= scores.shape[1]):
        raise ValueError("labels must have shape (N,) with values in [0, C)")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    loss = float(np.mean(log_sum - shifted[np.arange(n), labels]))
    dscores = np.exp(shifted - log_sum[:, None])
    dscores[np.arange(n), labels] -= 1
    return loss, dscores / n


@op
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
