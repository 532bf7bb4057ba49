"""Dense ops: GEMM, activations, linear layer, fused softmax-cross-entropy.

Shapes: N batch, D in features, M out features, C classes.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from fastbp import _core


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: Optional[np.ndarray] = None,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
) -> np.ndarray:
    """``alpha * op(a) @ op(b) + beta * c``, op = transpose when ``trans_*``.

    Returns a new (M, N) array, or ``c`` itself updated in place when given.
    With ``beta == 0`` the old contents of ``c`` are never read.
    """
    return _core.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D float arrays of one dtype."""
    return _core.gemm(a, b)


def relu_forward(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` element-wise, any shape."""
    return _core.relu_forward(x)


def relu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dout`` where ``x > 0``, else 0."""
    return _core.relu_backward(dout, x)


def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``x`` where ``x > 0``, else ``slope * x``."""
    return _core.leaky_relu_forward(x, slope)


def leaky_relu_backward(dout: np.ndarray, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``dout`` where ``x > 0``, else ``slope * dout``."""
    return _core.leaky_relu_backward(dout, x, slope)


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, overflow-free for any x."""
    return _core.sigmoid_forward(x)


def sigmoid_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dout * y * (1 - y)`` where ``y`` is the forward output."""
    return _core.sigmoid_backward(dout, y)


def tanh_forward(x: np.ndarray) -> np.ndarray:
    """``tanh(x)`` element-wise."""
    return _core.tanh_forward(x)


def tanh_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dout * (1 - y**2)`` where ``y`` is the forward output."""
    return _core.tanh_backward(dout, y)


def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """``x @ w + b``: x (N, D), w (D, M), b (M,) or None -> (N, M)."""
    return _core.linear_forward(x, w, b)


def linear_backward(
    dout: np.ndarray, x: np.ndarray, w: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``x @ w + b``: dout (N, M) -> (dx (N, D), dw (D, M), db (M,))."""
    return _core.linear_backward(dout, x, w)


def linear_backward_accumulate(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    w_grad: np.ndarray,
    b_grad: Optional[np.ndarray] = None,
    *,
    input_grad: bool = True,
    accumulate: bool = True,
) -> Optional[np.ndarray]:
    """Like :func:`linear_backward`, but adds dw into ``w_grad`` and db into
    ``b_grad`` in place (both writable, C-contiguous) and returns only dx.

    This is what a layer's backward does: parameter gradients accumulate.
    With ``input_grad=False`` dx is not computed and None is returned (the
    first layer of a network: its input is data). With ``accumulate=False``
    dw and db overwrite the buffers, whose old contents are never read (a
    gradient known to be zero need not be zero-filled first).
    """
    return _core.linear_backward_accumulate(
        dout, x, w, w_grad, b_grad, input_grad=input_grad, accumulate=accumulate
    )


def linear_relu_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """``relu(x @ w + b)`` in one call: a Linear layer and the ReLU after it, bitwise
    ``relu_forward(linear_forward(x, w, b))``."""
    return _core.linear_relu_forward(x, w, b)


def linear_relu_backward_accumulate(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    w_grad: np.ndarray,
    b_grad: Optional[np.ndarray] = None,
    *,
    input_grad: bool = True,
    accumulate: bool = True,
) -> Optional[np.ndarray]:
    """The backward of :func:`linear_relu_forward`, whose output was ``y`` (N, M):
    :func:`linear_backward_accumulate` of ``dout`` where ``y > 0`` (0 elsewhere),
    bitwise the ReLU's backward followed by the layer's."""
    return _core.linear_relu_backward_accumulate(
        dout, x, w, y, w_grad, b_grad, input_grad=input_grad, accumulate=accumulate
    )


def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient, fused in one pass.

    scores (N, C) float, labels (N,) integers in [0, C) -> (loss, dscores (N, C)),
    dscores already divided by N. Stable for logits of any magnitude.
    """
    return _core.softmax_cross_entropy(scores, labels)
