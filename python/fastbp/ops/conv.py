"""Convolution and pooling ops on NCHW images.

Shapes: N batch, C in channels, H W image size, OC out channels, KH KW kernel,
OH OW output size, with OH = (H + 2*padding_h - KH) // stride_h + 1 (likewise OW).
``kernel_size``, ``stride`` and ``padding`` take an int (both axes) or a pair
``(h, w)``. A configuration whose output would be empty raises ``ValueError``.
Convolution is cross-correlation, as in PyTorch.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastbp import _core

IntPair = Union[int, Tuple[int, int]]


def im2col(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """Unfold the windows of x (N, C, H, W) into rows: -> (N*OH*OW, C*KH*KW).

    Rows are ordered (n, oh, ow), columns (c, kh, kw); padding reads as zero.
    """
    return _core.im2col(x, kernel_size, stride, padding)


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
    return _core.col2im(cols, x_shape, kernel_size, stride, padding)


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
    return _core.conv2d_forward(x, w, b, stride, padding)


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
    return _core.conv2d_backward(dout, x, w, stride, padding, input_grad=input_grad)


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
    return _core.conv2d_relu_max_pool2d_forward(
        x, w, b, stride, padding, kernel_size, pool_stride
    )


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
    return _core.conv2d_relu_max_pool2d_backward(
        dout, argmax, y, x, w, stride, padding, input_grad=input_grad
    )


def max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Max pooling without padding; ``stride`` defaults to ``kernel_size``.

    x (N, C, H, W) -> (y (N, C, OH, OW), argmax (N, C, OH, OW) int64), where
    argmax holds the index into ``x.ravel()`` of each window's first maximum
    (a NaN in a window wins and propagates).
    """
    return _core.max_pool2d_forward(x, kernel_size, stride)


def max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray:
    """Gradient of :func:`max_pool2d_forward`: zeros of ``x_shape`` with
    ``dx.ravel()[argmax] += dout`` (overlapping windows add up).

    argmax must have dout's shape, hold integers inside ``x``; anything else
    raises ``ValueError`` or ``TypeError``.
    """
    return _core.max_pool2d_backward(dout, argmax, x_shape)


def relu_max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """A ReLU followed by max pooling, in one pass over ``x``.

    -> (y, argmax): y is bitwise ``max_pool2d_forward(relu_forward(x), ...)[0]``
    (max commutes with the ReLU, so relu(x) is never stored); argmax indexes the
    first maximum of each window of ``x`` itself. Pass both to
    :func:`relu_max_pool2d_backward`.
    """
    return _core.relu_max_pool2d_forward(x, kernel_size, stride)


def relu_max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, y: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray:
    """Gradient of :func:`relu_max_pool2d_forward` with respect to its ``x``:
    ``max_pool2d_backward(where(y > 0, dout, 0), argmax, x_shape)``, bitwise the
    ReLU backward of the unfused max-pool backward.

    ``y`` is the forward's output (dout's shape and dtype); argmax as in
    :func:`max_pool2d_backward`.
    """
    return _core.relu_max_pool2d_backward(dout, argmax, y, x_shape)


def avg_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> np.ndarray:
    """Average pooling without padding; ``stride`` defaults to ``kernel_size``.
    x (N, C, H, W) -> (N, C, OH, OW).
    """
    return _core.avg_pool2d_forward(x, kernel_size, stride)


def avg_pool2d_backward(
    dout: np.ndarray,
    x_shape: Sequence[int],
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d_forward`: each dout / (KH*KW) spread over
    its window, overlaps summed -> dx of ``x_shape``.
    """
    return _core.avg_pool2d_backward(dout, x_shape, kernel_size, stride)
