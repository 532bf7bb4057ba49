"""Losses: ``forward(prediction, target) -> float``, then ``backward() -> dprediction``.

A loss is the end of the chain: ``backward()`` takes no argument (the loss is
the objective, its gradient with respect to itself is 1) and returns the
gradient with respect to the prediction, ready for ``model.backward``::

    loss = SoftmaxCrossEntropy()
    value = loss(model(X), y)            # float
    model.backward(loss.backward())      # parameter gradients accumulate

Every loss validates its arguments: mismatched batch sizes or shapes, labels
outside ``[0, C)``, an empty batch raise ``ValueError`` naming the loss and the
shapes; non-numeric input raises ``TypeError``. Predictions of a non-float
real dtype are converted as the layers do (:func:`fastbp.nn.module.as_input`).
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

from fastbp import ops
from fastbp.nn.module import Module, as_input

__all__ = [
    "Loss",
    "MSELoss",
    "MultiMarginLoss",
    "SoftmaxCrossEntropy",
    "SquaredError",
    "l2_penalty",
]


class Loss:
    """Base of the losses: ``__call__`` is ``forward``; ``backward()`` returns
    the gradient cached by the last ``forward``."""

    def __init__(self) -> None:
        self._grad: Optional[np.ndarray] = None

    def forward(self, prediction: Any, target: Any) -> float:
        """The loss of ``prediction`` against ``target`` (a float, averaged over
        the batch unless the loss says otherwise); caches what ``backward`` needs."""
        raise NotImplementedError

    def __call__(self, prediction: Any, target: Any) -> float:
        return self.forward(prediction, target)

    def backward(self) -> np.ndarray:
        """Gradient of the last forward's loss with respect to its prediction."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")
        return self._grad

    def extra_repr(self) -> str:
        """The text inside the parentheses of this loss's repr."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def _shapes(scores: np.ndarray, labels: np.ndarray) -> str:
    """The shapes an error message quotes (formatted only when one is raised)."""
    return f"scores {scores.shape}, labels {labels.shape}"


class _Classification(Loss):
    """Shared validation of (N, C) scores and (N,) integer labels."""

    def _check(self, scores: Any, labels: Any):
        name = type(self).__name__
        scores = as_input(scores, None, name, "scores")
        if type(labels) is not np.ndarray:
            labels = np.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"{name}: labels must be integers, got dtype {labels.dtype}")
        if scores.ndim != 2:
            raise ValueError(f"{name}: scores must be 2-D (N, C), got shape {scores.shape}")
        if labels.shape != (scores.shape[0],):
            raise ValueError(f"{name}: labels must have shape (N,) = ({scores.shape[0]},); "
                             f"got {_shapes(scores, labels)}")
        if scores.shape[0] == 0:
            raise ValueError(f"{name}: empty batch (N = 0); got {_shapes(scores, labels)}")
        if scores.shape[1] == 0:
            raise ValueError(f"{name}: scores have no classes (C = 0); "
                             f"got {_shapes(scores, labels)}")
        self._grad = None
        return scores, labels


class SoftmaxCrossEntropy(_Classification):
    """Mean over the batch of ``-log softmax(scores)[label]``, on the fused core op.

    ``forward(scores (N, C), labels (N,) integers in [0, C)) -> float``;
    ``backward() -> dscores (N, C) = (softmax(scores) - onehot(labels)) / N``
    (the CS231n ``dscores``). Stable for logits of any magnitude. The same value
    as ``torch.nn.CrossEntropyLoss()`` on (N, C) scores.
    """

    def forward(self, scores: Any, labels: Any) -> float:
        scores, labels = self._check(scores, labels)
        try:
            loss, dscores = ops.softmax_cross_entropy(scores, labels)
        except ValueError as e:  # labels out of range, checked by the core before any work
            shapes = _shapes(scores, labels)
            raise ValueError(f"{type(self).__name__}: {e}; got {shapes}") from None
        self._grad = dscores
        return float(loss)


class MultiMarginLoss(_Classification):
    """Multiclass SVM (hinge) loss with PyTorch's ``MultiMarginLoss`` semantics.

    For scores ``s`` (N, C) and labels ``y`` (N,) in ``[0, C)``::

        loss_i = sum over j != y_i of max(0, margin - s[i, y_i] + s[i, j])**p / C
        loss   = mean_i loss_i        (reduction="mean"; "sum" adds them)

    Note the division by C, as in PyTorch; the CS231n SVM loss
    (``sum_j max(0, s_j - s_y + 1)``, not divided) is C times this value and has
    C times its gradient. ``backward() -> dscores (N, C)``: for each violated
    margin ``z = margin - s_y + s_j > 0``, ``+p * z**(p-1) / C`` on ``s_j`` and
    the opposite on ``s_y`` (divided by N for the mean); zero where ``z <= 0``,
    so the subgradient at the kink is 0, as PyTorch takes it. Loss and gradient
    come from one fused C++ pass.

    Args:
        p: 1 (hinge, the default) or 2 (squared hinge).
        margin: the required score gap (1.0).
        reduction: ``"mean"`` or ``"sum"`` over the batch.
    (PyTorch's per-class ``weight`` is not supported.)
    """

    def __init__(self, p: int = 1, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        if not isinstance(margin, numbers.Real) or isinstance(margin, bool) or \
                not np.isfinite(margin):
            raise ValueError(f"MultiMarginLoss: margin must be a finite float, got {margin!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MultiMarginLoss: reduction must be 'mean' or 'sum', "
                             f"got {reduction!r}")
        self.p = int(p)
        self.margin = float(margin)
        self.reduction = reduction

    def forward(self, scores: Any, labels: Any) -> float:
        scores, labels = self._check(scores, labels)
        try:
            loss, dscores = ops.multi_margin_loss(scores, labels, p=self.p, margin=self.margin,
                                                  reduction=self.reduction)
        except ValueError as e:  # labels out of range, checked by the core before any work
            shapes = _shapes(scores, labels)
            raise ValueError(f"{type(self).__name__}: {e}; got {shapes}") from None
        self._grad = dscores
        return loss

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"


class _Regression(Loss):
    """Shared validation of prediction/target pairs of the same shape."""

    def _diff(self, y: Any, t: Any) -> np.ndarray:
        name = type(self).__name__
        y = as_input(y, None, name, "prediction")
        t = as_input(t, y.dtype, name, "target")
        if y.shape != t.shape:
            raise ValueError(
                f"{name}: prediction and target must have the same shape, "
                f"got prediction {y.shape}, target {t.shape}"
            )
        if y.size == 0:
            raise ValueError(f"{name}: empty batch; got prediction {y.shape}, target {t.shape}")
        self._grad = None
        return y - t


class MSELoss(_Regression):
    """Mean squared error, PyTorch's ``MSELoss``: ``mean((y - t)**2)`` over all
    elements (``reduction="mean"``) or the plain sum (``"sum"``).

    ``backward()`` returns ``2 (y - t) / numel`` or ``2 (y - t)``. Small
    element-wise NumPy arithmetic; there is no dedicated core op.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MSELoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def forward(self, prediction: Any, target: Any) -> float:
        diff = self._diff(prediction, target)
        total = float(np.sum(diff * diff))
        if self.reduction == "mean":
            self._grad = diff * (2.0 / diff.size)
            return total / diff.size
        self._grad = diff * 2.0
        return total

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class SquaredError(_Regression):
    """The textbooks' cost ``J = 0.5 * sum((y - t)**2)`` (not averaged: the 0.5
    cancels the 2 of the derivative, so ``backward()`` returns ``y - t``, the
    delta rule's error term)."""

    def forward(self, prediction: Any, target: Any) -> float:
        diff = self._diff(prediction, target)
        self._grad = diff
        return 0.5 * float(np.sum(diff * diff))


def l2_penalty(model: Module, reg: float) -> float:
    """L2 regularisation as the CS231n spiral code writes it.

    Returns ``0.5 * reg * sum(W**2)`` summed over the model's weights and adds
    ``reg * W`` into each weight's ``.grad`` (call it after ``backward``, or
    before: gradients accumulate either way). Weights are parameters with
    ``ndim >= 2`` (Linear and convolution weights); biases and other 1-D
    parameters (e.g. normalisation scales) are not penalised.
    """
    if not isinstance(model, Module):
        raise TypeError(f"l2_penalty: model must be a fastbp.nn.Module, got {type(model).__name__}")
    reg = float(reg)
    if not np.isfinite(reg) or reg < 0:
        raise ValueError(f"l2_penalty: reg must be finite and >= 0, got {reg}")
    total = 0.0
    accumulate = ops.l2_penalty_accumulate
    for p in model.parameters():  # cached by the module until its structure changes
        data = p.data
        if data.ndim >= 2:
            total += accumulate(p.grad, data, reg)
    return total
