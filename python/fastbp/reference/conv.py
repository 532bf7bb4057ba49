"""Convolution and pooling ops and their NumPy twins: im2col by stride tricks, GEMM by ``@``.

Shapes: N batch, C in channels, H W image, OC out channels, KH KW kernel,
SH SW stride, PH PW padding, OH OW output size, P = OH*OW.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union


import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fastbp._optable import op
from fastbp.reference.dense import relu_backward, relu_forward

IntPair = Union[int, Tuple[int, int]]


def _pair(value, name: str) -> Tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _output_size(x_shape, kernel, stride, padding, op: str) -> Tuple[int, int]:
    """(OH, OW); ValueError for a bad kernel/stride/padding or an empty output."""
    (_, _, H, W), (KH, KW), (SH, SW), (PH, PW) = x_shape, kernel, stride, padding
    if min(KH, KW) < 1 or min(SH, SW) < 1 or min(PH, PW) < 0:
        raise ValueError(f"{op}: need kernel_size >= 1, stride >= 1, padding >= 0")
    if H + 2 * PH < KH or W + 2 * PW < KW:
        raise ValueError(
            f"{op}: empty output: input (H, W) = {(H, W)} with padding {(PH, PW)} "
            f"is smaller than the kernel {(KH, KW)}"
        )
    return (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1


def _require_4d(a: np.ndarray, name: str) -> None:
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {a.shape}")


@op
def im2col(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """Unfold the windows of x (N, C, H, W) into rows: -> (N*OH*OW, C*KH*KW).

    Rows are ordered (n, oh, ow), columns (c, kh, kw); padding reads as zero.
    """
    _require_4d(x, "x")
    k, s, p = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding")
    _output_size(x.shape, k, s, p, "im2col")
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    windows = sliding_window_view(xp, k, axis=(2, 3))[:, :, :: s[0], :: s[1]]  # N C OH OW KH KW
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * k[0] * k[1])


@op
def col2im(
    cols: np.ndarray,
    x_shape: Sequence[int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: fold cols (N*OH*OW, C*KH*KW) back into an
    array of ``x_shape`` (N, C, H, W), summing entries that overlap.
    """
    N, C, H, W = (int(d) for d in x_shape)
    (KH, KW), (SH, SW), (PH, PW) = (
        _pair(kernel_size, "kernel_size"),
        _pair(stride, "stride"),
        _pair(padding, "padding"),
    )
    OH, OW = _output_size((N, C, H, W), (KH, KW), (SH, SW), (PH, PW), "col2im")
    if cols.shape != (N * OH * OW, C * KH * KW):
        raise ValueError(f"cols must have shape {(N * OH * OW, C * KH * KW)}, got {cols.shape}")
    c6 = cols.reshape(N, OH, OW, C, KH, KW).transpose(0, 3, 4, 5, 1, 2)  # N C KH KW OH OW
    xp = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            xp[:, :, kh : kh + SH * (OH - 1) + 1 : SH, kw : kw + SW * (OW - 1) + 1 : SW] += c6[
                :, :, kh, kw
            ]
    return np.ascontiguousarray(xp[:, :, PH : PH + H, PW : PW + W])


def _conv_check(x, w, op: str) -> None:
    _require_4d(x, "x")
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (OC, C, KH, KW), got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"{op}: x has {x.shape[1]} channels but w expects {w.shape[1]} "
            f"(x {x.shape}, w {w.shape})"
        )


@op
def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> np.ndarray:
    """2-D convolution: x (N, C, H, W), w (OC, C, KH, KW), b (OC,) or None
    -> y (N, OC, OH, OW), zero padding.

    float32 3x3 convolutions with stride 1 and at least 16 channels in and out
    run by Winograd F(4x4, 3x3) (its gradients: dx likewise, dw by F(2x2, 3x3)),
    whose rounding differs from a direct sum's (see the README's "Errors and
    guarantees"); the algorithm depends on the shapes only, never on threads.
    """
    _conv_check(x, w, "conv2d_forward")
    N, OC = x.shape[0], w.shape[0]
    OH, OW = _output_size(x.shape, w.shape[2:], _pair(stride, "stride"),
                          _pair(padding, "padding"), "conv2d_forward")
    cols = im2col(x, w.shape[2:], stride, padding)  # (N*P, CKK)
    y = cols @ w.reshape(OC, -1).T  # (N*P, OC)
    if b is not None:
        y += b
    return np.ascontiguousarray(y.reshape(N, OH, OW, OC).transpose(0, 3, 1, 2))


@op
def conv2d_backward(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    *,
    input_grad: bool = True,
) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward`: dout (N, OC, OH, OW)
    -> (dx (N, C, H, W), dw (OC, C, KH, KW), db (OC,)).

    With ``input_grad=False`` dx is None and its GEMM and col2im are skipped
    (the first layer of a network: its input is data). Results are bitwise
    identical for any thread count.
    """
    _conv_check(x, w, "conv2d_backward")
    OC = w.shape[0]
    cols = im2col(x, w.shape[2:], stride, padding)  # (N*P, CKK)
    d = dout.transpose(0, 2, 3, 1).reshape(-1, OC)  # (N*P, OC)
    db = d.sum(axis=0)
    dw = (d.T @ cols).reshape(w.shape)
    if not input_grad:
        return None, dw, db
    dx = col2im(d @ w.reshape(OC, -1), x.shape, w.shape[2:], stride, padding)
    return dx, dw, db


def _pool_windows(x, kernel_size, stride, op: str):
    """Windows of every (n, c) plane: (N*C*OH*OW, KH*KW), plus (OH, OW), kernel, stride."""
    _require_4d(x, "x")
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    OH, OW = _output_size(x.shape, k, s, (0, 0), op)
    N, C, H, W = x.shape
    return im2col(x.reshape(N * C, 1, H, W), k, s), (OH, OW), k, s


@op
def max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Max pooling without padding; ``stride`` defaults to ``kernel_size``.

    x (N, C, H, W) -> (y (N, C, OH, OW), argmax (N, C, OH, OW) int64), where
    argmax holds the index into ``x.ravel()`` of each window's first maximum
    (a NaN in a window wins and propagates).
    """
    cols, (OH, OW), (KH, KW), (SH, SW) = _pool_windows(x, kernel_size, stride, "max_pool2d_forward")
    N, C, H, W = x.shape
    local = cols.argmax(axis=1)  # first maximum; the first NaN when there is one
    y = np.take_along_axis(cols, local[:, None], axis=1).reshape(N, C, OH, OW)
    kh, kw = np.divmod(local.reshape(N * C, OH, OW), KW)
    plane = np.arange(N * C).reshape(-1, 1, 1) * (H * W)
    ih = np.arange(OH).reshape(1, -1, 1) * SH + kh
    iw = np.arange(OW).reshape(1, 1, -1) * SW + kw
    argmax = (plane + ih * W + iw).astype(np.int64).reshape(N, C, OH, OW)
    return y, argmax


@op
def max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray:
    """Gradient of :func:`max_pool2d_forward`: zeros of ``x_shape`` with
    ``dx.ravel()[argmax] += dout`` (overlapping windows add up).

    argmax must have dout's shape, hold integers inside ``x``; anything else
    raises ``ValueError`` or ``TypeError``.
    """
    _require_4d(dout, "dout")
    argmax = np.asarray(argmax)
    if argmax.shape != dout.shape:
        raise ValueError(f"argmax must have the shape of dout {dout.shape}, got {argmax.shape}")
    size = int(np.prod([int(d) for d in x_shape]))
    if argmax.size and (argmax.min() < 0 or argmax.max() >= size):
        raise ValueError(f"argmax holds indices outside [0, {size}) for x_shape {tuple(x_shape)}")
    dx = np.zeros(size, dtype=dout.dtype)
    np.add.at(dx, argmax.ravel(), dout.ravel())
    return dx.reshape(tuple(int(d) for d in x_shape))


@op
def relu_max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """A ReLU followed by max pooling, in one pass over ``x``.

    -> (y, argmax): y is bitwise ``max_pool2d_forward(relu_forward(x), ...)[0]``
    (max commutes with the ReLU, so relu(x) is never stored); argmax indexes the
    first maximum of each window of ``x`` itself. Pass both to
    :func:`relu_max_pool2d_backward`.
    """
    y, _ = max_pool2d_forward(relu_forward(x), kernel_size, stride)
    _, argmax = max_pool2d_forward(x, kernel_size, stride)
    return y, argmax


@op
def conv2d_relu_max_pool2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: Optional[np.ndarray],
    stride: IntPair,
    padding: IntPair,
    kernel_size: IntPair,
    pool_stride: Optional[IntPair] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """A convolution, a ReLU and max pooling, one sample at a time, so that the
    convolution's output (N, OC, OH, OW) never leaves the cache.

    -> (y, argmax), bitwise ``relu_max_pool2d_forward(conv2d_forward(x, w, b,
    stride, padding), kernel_size, pool_stride)``: argmax indexes the (unstored)
    convolution output. The backward is :func:`relu_max_pool2d_backward` into
    that output's shape, then :func:`conv2d_backward`.
    """
    return relu_max_pool2d_forward(conv2d_forward(x, w, b, stride, padding), kernel_size,
                                   pool_stride)


@op
def conv2d_relu_max_pool2d_backward(
    dout: np.ndarray,
    argmax: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntPair,
    padding: IntPair,
    *,
    input_grad: bool = True,
) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of :func:`conv2d_relu_max_pool2d_forward`, whose
    outputs were ``y`` and ``argmax``: bitwise ``conv2d_backward`` of
    :func:`relu_max_pool2d_backward` into the convolution's output shape, with
    that gradient built one sample at a time in cache instead of whole.
    dx is None without ``input_grad``."""
    OH, OW = _output_size(x.shape, w.shape[2:], _pair(stride, "stride"),
                          _pair(padding, "padding"), "conv2d_relu_max_pool2d_backward")
    c_shape = (x.shape[0], w.shape[0], OH, OW)
    d_conv = relu_max_pool2d_backward(dout, argmax, y, c_shape)
    return conv2d_backward(d_conv, x, w, stride, padding, input_grad=input_grad)


@op
def relu_max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, y: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray:
    """Gradient of :func:`relu_max_pool2d_forward` with respect to its ``x``:
    ``max_pool2d_backward(where(y > 0, dout, 0), argmax, x_shape)``, bitwise the
    ReLU backward of the unfused max-pool backward.

    ``y`` is the forward's output (dout's shape and dtype); argmax as in
    :func:`max_pool2d_backward`.
    """
    _require_4d(dout, "dout")
    if np.shape(y) != dout.shape:
        raise ValueError(f"y must have the shape of dout {dout.shape}, got {np.shape(y)}")
    return max_pool2d_backward(relu_backward(dout, y), argmax, x_shape)


@op
def avg_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> np.ndarray:
    """Average pooling without padding; ``stride`` defaults to ``kernel_size``.
    x (N, C, H, W) -> (N, C, OH, OW).
    """
    cols, (OH, OW), (KH, KW), _ = _pool_windows(x, kernel_size, stride, "avg_pool2d_forward")
    N, C = x.shape[:2]
    return (cols.sum(axis=1) / (KH * KW)).reshape(N, C, OH, OW)


@op
def avg_pool2d_backward(
    dout: np.ndarray,
    x_shape: Sequence[int],
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d_forward`: each dout / (KH*KW) spread over
    its window, overlaps summed -> dx of ``x_shape``.
    """
    N, C, H, W = (int(d) for d in x_shape)
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    OH, OW = _output_size((N, C, H, W), k, s, (0, 0), "avg_pool2d_backward")
    if dout.shape != (N, C, OH, OW):
        raise ValueError(f"dout must have shape {(N, C, OH, OW)}, got {dout.shape}")
    share = dout.reshape(-1, 1) / (k[0] * k[1])
    dcols = np.repeat(share, k[0] * k[1], axis=1)
    return col2im(dcols, (N * C, 1, H, W), k, s).reshape(N, C, H, W)
