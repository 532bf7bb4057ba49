"""NumPy twins of ``fastbp.ops.dense``. Shapes: N batch, D in, M out, C classes."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """``alpha * op(a) @ op(b) + beta * c``; returns ``c`` updated in place when given."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    product = alpha * (op_a @ op_b)
    if c is None:
        if beta != 0.0:
            raise ValueError("gemm: beta != 0 needs an array c to accumulate into")
        return product.astype(a.dtype, copy=False)
    c[...] = product if beta == 0.0 else product + beta * c
    return c


def matmul(a, b):
    """``a @ b``."""
    return a @ b


def relu_forward(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(dout, x):
    return np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)


def leaky_relu_forward(x, slope=0.01):
    return np.where(x > 0, x, x * x.dtype.type(slope))


def leaky_relu_backward(dout, x, slope=0.01):
    return np.where(x > 0, dout, dout * dout.dtype.type(slope))


def sigmoid_forward(x):
    # exp of a non-positive argument only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dout, y):
    return dout * y * (1 - y)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(dout, y):
    return dout * (1 - y**2)


def linear_forward(x, w, b: Optional[np.ndarray]):
    y = x @ w
    return y if b is None else y + b


def linear_backward(dout, x, w) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def linear_backward_accumulate(dout, x, w, w_grad, b_grad=None, *, input_grad=True,
                               accumulate=True):
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


def linear_relu_forward(x, w, b: Optional[np.ndarray]):
    return relu_forward(linear_forward(x, w, b))


def linear_relu_backward_accumulate(dout, x, w, y, w_grad, b_grad=None, *, input_grad=True,
                                    accumulate=True):
    if np.shape(y) != np.shape(dout):
        raise ValueError(f"y must have the shape of dout {np.shape(dout)}, got {np.shape(y)}")
    return linear_backward_accumulate(relu_backward(dout, y), x, w, w_grad, b_grad,
                                      input_grad=input_grad, accumulate=accumulate)


def softmax_cross_entropy(scores, labels) -> Tuple[float, np.ndarray]:
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
