"""NumPy twins of ``fastbp.ops.conv``: im2col by stride tricks, GEMM by ``@``.

Shapes: N batch, C in channels, H W image, OC out channels, KH KW kernel,
SH SW stride, PH PW padding, OH OW output size, P = OH*OW.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fastbp.reference.dense import relu_backward, relu_forward


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


def im2col(x, kernel_size, stride=1, padding=0):
    """x (N, C, H, W) -> (N*OH*OW, C*KH*KW), rows (n, oh, ow), columns (c, kh, kw)."""
    _require_4d(x, "x")
    k, s, p = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding")
    _output_size(x.shape, k, s, p, "im2col")
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    windows = sliding_window_view(xp, k, axis=(2, 3))[:, :, :: s[0], :: s[1]]  # N C OH OW KH KW
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * k[0] * k[1])


def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """Fold cols (N*OH*OW, C*KH*KW) into x_shape (N, C, H, W), summing overlaps."""
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


def conv2d_forward(x, w, b: Optional[np.ndarray] = None, stride=1, padding=0):
    """x (N, C, H, W), w (OC, C, KH, KW), b (OC,) or None -> (N, OC, OH, OW)."""
    _conv_check(x, w, "conv2d_forward")
    N, OC = x.shape[0], w.shape[0]
    OH, OW = _output_size(x.shape, w.shape[2:], _pair(stride, "stride"),
                          _pair(padding, "padding"), "conv2d_forward")
    cols = im2col(x, w.shape[2:], stride, padding)  # (N*P, CKK)
    y = cols @ w.reshape(OC, -1).T  # (N*P, OC)
    if b is not None:
        y += b
    return np.ascontiguousarray(y.reshape(N, OH, OW, OC).transpose(0, 3, 1, 2))


def conv2d_backward(dout, x, w, stride=1, padding=0, *, input_grad=True):
    """dout (N, OC, OH, OW) -> (dx, dw, db); dx is None without input_grad."""
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


def max_pool2d_forward(x, kernel_size, stride=None):
    """-> (y (N, C, OH, OW), argmax int64 index into x.ravel() of each first maximum)."""
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


def max_pool2d_backward(dout, argmax, x_shape: Sequence[int]):
    """Zeros of x_shape with dx.ravel()[argmax] += dout."""
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


def relu_max_pool2d_forward(x, kernel_size, stride=None):
    """-> (y of max-pooling relu(x), argmax of x's own window maxima)."""
    y, _ = max_pool2d_forward(relu_forward(x), kernel_size, stride)
    _, argmax = max_pool2d_forward(x, kernel_size, stride)
    return y, argmax


def conv2d_relu_max_pool2d_forward(x, w, b, stride, padding, kernel_size, pool_stride=None):
    """-> relu_max_pool2d_forward of the convolution's output."""
    return relu_max_pool2d_forward(conv2d_forward(x, w, b, stride, padding), kernel_size,
                                   pool_stride)


def conv2d_relu_max_pool2d_backward(dout, argmax, y, x, w, stride, padding, *,
                                    input_grad=True):
    """-> conv2d_backward of relu_max_pool2d_backward into the convolution's output."""
    OH, OW = _output_size(x.shape, w.shape[2:], _pair(stride, "stride"),
                          _pair(padding, "padding"), "conv2d_relu_max_pool2d_backward")
    c_shape = (x.shape[0], w.shape[0], OH, OW)
    d_conv = relu_max_pool2d_backward(dout, argmax, y, c_shape)
    return conv2d_backward(d_conv, x, w, stride, padding, input_grad=input_grad)


def relu_max_pool2d_backward(dout, argmax, y, x_shape: Sequence[int]):
    """max_pool2d_backward of dout where y > 0 (0 elsewhere)."""
    _require_4d(dout, "dout")
    if np.shape(y) != dout.shape:
        raise ValueError(f"y must have the shape of dout {dout.shape}, got {np.shape(y)}")
    return max_pool2d_backward(relu_backward(dout, y), argmax, x_shape)


def avg_pool2d_forward(x, kernel_size, stride=None):
    """Window means -> (N, C, OH, OW)."""
    cols, (OH, OW), (KH, KW), _ = _pool_windows(x, kernel_size, stride, "avg_pool2d_forward")
    N, C = x.shape[:2]
    return (cols.sum(axis=1) / (KH * KW)).reshape(N, C, OH, OW)


def avg_pool2d_backward(dout, x_shape: Sequence[int], kernel_size, stride=None):
    """Each dout / (KH*KW) spread over its window, overlaps summed."""
    N, C, H, W = (int(d) for d in x_shape)
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    OH, OW = _output_size((N, C, H, W), k, s, (0, 0), "avg_pool2d_backward")
    if dout.shape != (N, C, OH, OW):
        raise ValueError(f"dout must have shape {(N, C, OH, OW)}, got {dout.shape}")
    share = dout.reshape(-1, 1) / (k[0] * k[1])
    dcols = np.repeat(share, k[0] * k[1], axis=1)
    return col2im(dcols, (N * C, 1, H, W), k, s).reshape(N, C, H, W)
