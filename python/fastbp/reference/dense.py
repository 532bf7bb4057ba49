"""Dense ops and their NumPy twins: GEMM, activations, the linear layer.

Shapes: N batch, D in features, M out features.
"""

from __future__ import annotations

from typing import Optional, Tuple


import numpy as np

from fastbp._optable import op


@op
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
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    product = alpha * (op_a @ op_b)
    if c is None:
        if beta != 0.0:
            raise ValueError("gemm: beta != 0 needs an array c to accumulate into")
        return product.astype(a.dtype, copy=False)
    c[...] = product if beta == 0.0 else product + beta * c
    return c


@op
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D float arrays of one dtype."""
    return a @ b


@op
def relu_forward(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` element-wise, any shape."""
    return np.maximum(x, 0).astype(x.dtype, copy=False)


@op
def relu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dout`` where ``x > 0``, else 0."""
    return np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)


@op
def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``x`` where ``x > 0``, else ``slope * x``."""
    return np.where(x > 0, x, x * x.dtype.type(slope))


@op
def leaky_relu_backward(dout: np.ndarray, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """``dout`` where ``x > 0``, else ``slope * dout``."""
    return np.where(x > 0, dout, dout * dout.dtype.type(slope))


@op
def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, overflow-free for any x."""
    # exp of a non-positive argument only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@op
def sigmoid_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dout * y * (1 - y)`` where ``y`` is the forward output."""
    return dout * y * (1 - y)


@op
def tanh_forward(x: np.ndarray) -> np.ndarray:
    """``tanh(x)`` element-wise."""
    return np.tanh(x)


@op
def tanh_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dout * (1 - y**2)`` where ``y`` is the forward output."""
    return dout * (1 - y**2)


_GELU_SCALE = 0.79788456080286535588  # sqrt(2 / pi)
_GELU_CUBIC = 0.044715


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """tanh(sqrt(2/pi) (x + 0.044715 x**3)) in x's dtype (the cube may overflow to inf)."""
    t = x.dtype.type
    with np.errstate(over="ignore"):
        return np.tanh(t(_GELU_SCALE) * (x + t(_GELU_CUBIC) * x * x * x))


@op
def gelu_forward(x: np.ndarray) -> np.ndarray:
    """GELU, element-wise, any shape, in PyTorch's ``approximate="tanh"`` form
    (``torch.nn.functional.gelu(x, approximate="tanh")``; the default there is
    the erf form, which differs by at most 4.8e-4)::

        gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    """
    t = x.dtype.type
    return (t(0.5) * x * (1 + _gelu_tanh(x))).astype(x.dtype, copy=False)


@op
def gelu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dout * gelu'(x)`` where ``x`` is the forward input, with ``t`` the tanh
    of :func:`gelu_forward`::

        gelu'(x) = 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x**2)

    The second term is 0 where ``t`` rounds to +-1 (large ``|x|``), also when
    ``x**2`` overflows.
    """
    t = x.dtype.type
    th = _gelu_tanh(x)
    sech2 = 1 - th * th
    with np.errstate(over="ignore", invalid="ignore"):
        du = t(_GELU_SCALE) * (1 + t(3 * _GELU_CUBIC) * x * x)
        slope = np.where(sech2 == 0, t(0), t(0.5) * x * sech2 * du)
    return (dout * (t(0.5) * (1 + th) + slope)).astype(dout.dtype, copy=False)


@op
def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """``x @ w + b``: x (N, D), w (D, M), b (M,) or None -> (N, M)."""
    y = x @ w
    return y if b is None else y + b


@op
def linear_backward(
    dout: np.ndarray, x: np.ndarray, w: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``x @ w + b``: dout (N, M) -> (dx (N, D), dw (D, M), db (M,))."""
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


@op
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
    dx, dw, db = linear_backward(dout, x, w)
    if accumulate:
        w_grad += dw
    else:
        w_grad[...] = dw
    if b_grad is not None:
        if accumulate:
            b_grad += db
        else:
            b_grad[...] = db
    return dx if input_grad else None


@op
def linear_relu_forward(
    x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None
) -> np.ndarray:
    """``relu(x @ w + b)`` in one call: a Linear layer and the ReLU after it, bitwise
    ``relu_forward(linear_forward(x, w, b))``."""
    return relu_forward(linear_forward(x, w, b))


@op
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
    if np.shape(y) != np.shape(dout):
        raise ValueError(f"y must have the shape of dout {np.shape(dout)}, got {np.shape(y)}")
    return linear_backward_accumulate(relu_backward(dout, y), x, w, w_grad, b_grad,
                                      input_grad=input_grad, accumulate=accumulate)
