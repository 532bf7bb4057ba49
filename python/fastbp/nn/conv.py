"""Convolution, pooling and flatten layers on NCHW images.

Shapes: N batch, C in channels, H W image size, OC out channels, KH KW kernel,
SH SW stride, PH PW padding, OH OW output size with
``OH = (H + 2*PH - KH) // SH + 1`` (likewise OW).
``kernel_size``, ``stride`` and ``padding`` take an int (both axes) or a pair
``(h, w)``, as in PyTorch. Every pass is one ``fastbp.ops`` call.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastbp import ops
from fastbp.nn.dense import ReLU, _as_rng, _init_std, _layer_dtype, _positive_int
from fastbp.nn.module import Module, Parameter, as_input, write_grads

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "MaxPool2d"]

IntPair = Union[int, Tuple[int, int]]


def _pair(value, what: str, layer: str, minimum: int) -> Tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a tuple (h, w)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{layer}: {what} must be an int or a pair (h, w), got {value!r}")
    for v in items:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{layer}: {what} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{layer}: {what} must be >= {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def _check_images(layer: Module, x: np.ndarray, channels: Optional[int] = None) -> None:
    if x.ndim != 4:
        expected = f"(N, {channels}, H, W)" if channels is not None else "(N, C, H, W)"
        raise ValueError(
            f"{layer._short_repr()}: input must be 4-D {expected}, got shape {x.shape}"
        )
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{layer._short_repr()}: input has {x.shape[1]} channels, expected {channels} "
            f"(input shape {x.shape}, expected (N, {channels}, H, W))"
        )


def _output_hw(layer: Module, x_shape, kernel, stride, padding) -> Tuple[int, int]:
    H, W = x_shape[2], x_shape[3]
    (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
    if H + 2 * PH < KH or W + 2 * PW < KW:
        raise ValueError(
            f"{layer._short_repr()}: input of shape {tuple(x_shape)} is too small: "
            f"(H, W) = {(H, W)} with padding {(PH, PW)} is smaller than the kernel {(KH, KW)}"
        )
    return (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1


def _check_dout(layer: Module, dout: np.ndarray, expected: Tuple[int, ...]) -> None:
    if dout.shape != tuple(expected):
        raise ValueError(
            f"{layer._short_repr()}: dout has shape {dout.shape}, expected {tuple(expected)} "
            f"(the shape of the last forward output)"
        )


def _pool_dout(pool: "_Pool2d", dout, y_shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """dout of a pass over ``pool`` whose output had ``y_shape``, converted to
    ``dtype`` and checked (errors name the pool)."""
    dout = as_input(dout, dtype, pool, "dout")
    _check_dout(pool, dout, y_shape)
    return dout


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch) with zero padding.

    Args:
        in_channels, out_channels: C and OC.
        kernel_size, stride, padding: an int or a pair (h, w).
        bias: add a learnable per-channel bias (zero-initialised).
        init: zero-mean normal weights with fan-in ``C*KH*KW``: ``"he"``
            (std ``sqrt(2 / fan_in)``, the default), ``"xavier"`` (std
            ``sqrt(1 / fan_in)``, the simplified Xavier of "Deep Learning from
            Scratch"), or a float std (the book's SimpleConvNet uses ``0.01``).
        dtype: float32 (fast path) or float64 (gradient checks).
        rng: ``numpy.random.Generator`` or int seed; None draws fresh entropy.
        input_grad: when False, ``backward`` skips dx (one GEMM and the col2im)
            and returns None: for the first layer, whose input is data.

    Shapes: ``weight`` (OC, C, KH, KW) (PyTorch's layout), ``bias`` (OC,);
    input (N, C, H, W) -> output (N, OC, OH, OW). Input of another real dtype is
    converted to ``dtype``; a wrong rank or channel count raises ``ValueError``
    naming the layer and both shapes. ``backward`` adds dw and db into
    ``weight.grad`` and ``bias.grad`` and returns dx.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        *,
        bias: bool = True,
        init: Union[str, float] = "he",
        dtype=np.float32,
        rng: Union[None, int, np.random.Generator] = None,
        input_grad: bool = True,
    ):
        super().__init__()
        name = "Conv2d"
        self.input_grad = bool(input_grad)
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.kernel_size = _pair(kernel_size, "kernel_size", name, 1)
        self.stride = _pair(stride, "stride", name, 1)
        self.padding = _pair(padding, "padding", name, 0)
        self.dtype = _layer_dtype(dtype, name)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        std = _init_std(init, fan_in, name)
        gen = _as_rng(rng, name)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter((gen.standard_normal(shape) * std).astype(self.dtype))
        self.bias: Optional[Parameter] = (
            Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None
        )
        self._x: Optional[np.ndarray] = None
        self._y_shape: Optional[Tuple[int, ...]] = None

    def output_shape(self, x_shape) -> Tuple[int, int, int, int]:
        """(N, OC, OH, OW) for input of shape (N, C, H, W); ValueError when empty."""
        OH, OW = _output_hw(self, x_shape, self.kernel_size, self.stride, self.padding)
        return (int(x_shape[0]), self.out_channels, OH, OW)

    def forward(self, x) -> np.ndarray:
        x = self._prepare(x)
        b = None if self.bias is None else self.bias.data
        return ops.conv2d_forward(x, self.weight.data, b, self.stride, self.padding)

    def _prepare(self, x) -> np.ndarray:
        """x converted and checked; caches it and the output shape for backward."""
        x = as_input(x, self.dtype, self)
        _check_images(self, x, self.in_channels)
        self._y_shape = self.output_shape(x.shape)
        self._x = x
        return x

    def backward(self, dout) -> Optional[np.ndarray]:
        """Returns dx (N, C, H, W), or None when ``input_grad`` is False; adds dw
        into ``weight.grad`` and db into ``bias.grad``."""
        x = self._require_cache("_x")
        dout = as_input(dout, self.dtype, self, "dout")
        _check_dout(self, dout, self._y_shape)
        dx, dw, db = ops.conv2d_backward(
            dout, x, self.weight.data, self.stride, self.padding, input_grad=self.input_grad
        )
        self._accumulate_grads(dw, db)
        return dx

    def fuse_next(self, following: Sequence[Module]) -> Optional[Tuple[Module, int]]:
        """A ReLU and a MaxPool2d right after this layer run with it as one
        :class:`ConvReLUMaxPool2d` step."""
        if (type(self) is Conv2d and len(following) >= 2 and type(following[0]) is ReLU
                and type(following[1]) is MaxPool2d):
            return ConvReLUMaxPool2d(self, following[0], following[1]), 2
        return None

    def _accumulate_grads(self, dw: np.ndarray, db: np.ndarray) -> None:
        def compute(grads, accumulate):
            for grad, g in zip(grads, (dw, db)):
                if grad is not None:
                    if accumulate:
                        np.add(grad, g, out=grad)
                    else:
                        np.copyto(grad, g)

        write_grads((self.weight, self.bias), compute)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if self.stride != (1, 1):
            text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        if not self.input_grad:
            text += ", input_grad=False"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype.name}"
        return text


class _Pool2d(Module):
    """Shared arguments of the pooling layers: no padding, ``stride`` defaults
    to ``kernel_size`` (non-overlapping windows), as in PyTorch."""

    def __init__(self, kernel_size: IntPair, stride: Optional[IntPair] = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name, 1)
        self._x_shape: Optional[Tuple[int, ...]] = None
        self._y_shape: Optional[Tuple[int, ...]] = None
        self._dtype: Optional[np.dtype] = None

    def output_shape(self, x_shape) -> Tuple[int, int, int, int]:
        """(N, C, OH, OW) for input of shape (N, C, H, W); ValueError naming this
        layer when the windows do not fit."""
        OH, OW = _output_hw(self, x_shape, self.kernel_size, self.stride, (0, 0))
        return (int(x_shape[0]), int(x_shape[1]), OH, OW)

    def _prepare(self, x) -> np.ndarray:
        """x checked; caches the shapes and dtype of this pass for backward."""
        x = as_input(x, None, self)
        _check_images(self, x)
        self._y_shape = self.output_shape(x.shape)
        self._x_shape = x.shape
        self._dtype = x.dtype
        return x

    def _dout(self, dout) -> np.ndarray:
        y_shape = self._require_cache("_y_shape")
        return _pool_dout(self, dout, y_shape, self._dtype)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool2d):
    """Max pooling over (KH, KW) windows: (N, C, H, W) -> (N, C, OH, OW).

    Backward routes each dout to the first maximum of its window (the argmax
    cached by forward); overlapping windows add up. Input keeps float32/float64.
    """

    def __init__(self, kernel_size: IntPair, stride: Optional[IntPair] = None) -> None:
        super().__init__(kernel_size, stride)
        self._argmax: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        x = self._prepare(x)
        y, self._argmax = ops.max_pool2d_forward(x, self.kernel_size, self.stride)
        return y

    def backward(self, dout) -> np.ndarray:
        argmax = self._require_cache("_argmax")
        return ops.max_pool2d_backward(self._dout(dout), argmax, self._x_shape)

    def clear_cache(self) -> None:
        """Forgets the window maxima cached by forward."""
        self.__dict__["_argmax"] = None


class AvgPool2d(_Pool2d):
    """Average pooling over (KH, KW) windows: (N, C, H, W) -> (N, C, OH, OW).

    Backward spreads each dout evenly over its window. Input keeps float32/float64.
    """

    def forward(self, x) -> np.ndarray:
        x = self._prepare(x)
        return ops.avg_pool2d_forward(x, self.kernel_size, self.stride)

    def backward(self, dout) -> np.ndarray:
        self._require_cache("_x_shape")
        return ops.avg_pool2d_backward(
            self._dout(dout), self._x_shape, self.kernel_size, self.stride
        )


class ReLUMaxPool2d(Module):
    """A Sequential's ``ReLU`` and the ``MaxPool2d`` after it, run as one step, as
    :meth:`fastbp.nn.dense.ReLU.fuse_next` offers: max commutes with the ReLU, so
    the pooling reads its input once and relu(x) is never stored; backward routes
    dout to the window maxima and applies the ReLU's mask in the same pass
    (``ops.relu_max_pool2d_forward`` / ``_backward``).

    It holds the two modules without owning them (they stay the Sequential's
    children, with their own names and repr), keeps its own caches and clears
    theirs, so calling ``backward`` on either alone raises instead of using a
    stale cache.
    """

    def __init__(self, relu: ReLU, pool: "MaxPool2d") -> None:
        super().__init__()
        # __dict__ directly: plain references, not registered children.
        self.__dict__.update(relu=relu, pool=pool, _y=None, _argmax=None, _x_shape=None)

    def forward(self, x) -> np.ndarray:
        """max_pool(relu(x)): (N, C, H, W) -> (N, C, OH, OW), bitwise the two layers'."""
        relu, pool = self.relu, self.pool
        x = as_input(x, None, relu)
        _check_images(pool, x)
        pool.output_shape(x.shape)  # the pool's checks, before any work
        relu.clear_cache()
        pool.clear_cache()
        y, argmax = ops.relu_max_pool2d_forward(x, pool.kernel_size, pool.stride)
        self.__dict__.update(_y=y, _argmax=argmax, _x_shape=x.shape)
        return y

    def backward(self, dout) -> np.ndarray:
        """dx of both layers, bitwise the unfused pair's."""
        argmax = self._require_cache("_argmax")
        y = self._y
        dout = _pool_dout(self.pool, dout, y.shape, y.dtype)
        return ops.relu_max_pool2d_backward(dout, argmax, y, self._x_shape)

    def _short_repr(self) -> str:
        return f"{self.relu._short_repr()} + {self.pool._short_repr()}"


class ConvReLUMaxPool2d(Module):
    """A Sequential's ``Conv2d``, ``ReLU`` and ``MaxPool2d``, run as one step, as
    :meth:`Conv2d.fuse_next` offers (the conv - ReLU - pool block of most CNNs):
    each sample's convolution output is pooled while it is in cache and never
    stored, and backward builds each sample's gradient at that output in cache
    just before the convolution's backward reads it
    (``ops.conv2d_relu_max_pool2d_forward`` / ``_backward``).

    Like :class:`ReLUMaxPool2d`, it holds the three without owning them and
    clears the ReLU's and the pool's caches (the convolution keeps its input).
    """

    def __init__(self, conv: Conv2d, relu: ReLU, pool: MaxPool2d) -> None:
        super().__init__()
        self.__dict__.update(conv=conv, relu=relu, pool=pool, _y=None, _argmax=None)

    def forward(self, x) -> np.ndarray:
        """max_pool(relu(conv(x))): (N, C, H, W) -> (N, OC, OH', OW'), bitwise the
        three layers' output."""
        conv, pool = self.conv, self.pool
        x = conv._prepare(x)
        pool.output_shape(conv._y_shape)  # the pool's checks, before any work
        self.relu.clear_cache()
        pool.clear_cache()
        b = None if conv.bias is None else conv.bias.data
        y, argmax = ops.conv2d_relu_max_pool2d_forward(
            x, conv.weight.data, b, conv.stride, conv.padding, pool.kernel_size, pool.stride
        )
        self.__dict__.update(_y=y, _argmax=argmax)
        return y

    def backward(self, dout) -> Optional[np.ndarray]:
        """dx of the three layers (None when the Conv2d has ``input_grad=False``);
        adds the convolution's parameter gradients, bitwise the unfused layers'."""
        argmax = self._require_cache("_argmax")
        conv = self.conv
        y = self._y
        dout = _pool_dout(self.pool, dout, y.shape, y.dtype)
        x = conv._require_cache("_x")
        dx, dw, db = ops.conv2d_relu_max_pool2d_backward(
            dout, argmax, y, x, conv.weight.data, conv.stride, conv.padding,
            input_grad=conv.input_grad,
        )
        conv._accumulate_grads(dw, db)
        return dx

    def _short_repr(self) -> str:
        return " + ".join(m._short_repr() for m in (self.conv, self.relu, self.pool))


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...), e.g. conv features into a Linear layer.

    PyTorch's ``nn.Flatten()`` (start_dim 1): C-order, so a (N, C, H, W) map
    becomes rows ordered (c, h, w). Forward and backward are reshapes (views of
    contiguous arrays, no copy). Input keeps float32/float64.
    """

    def __init__(self) -> None:
        super().__init__()
        self._x_shape: Optional[Tuple[int, ...]] = None
        self._dtype: Optional[np.dtype] = None

    def forward(self, x) -> np.ndarray:
        x = as_input(x, None, self)
        if x.ndim < 2:
            raise ValueError(
                f"{self._short_repr()}: input must have a batch axis and at least one more, "
                f"(N, ...), got shape {x.shape}"
            )
        self.__dict__.update(_x_shape=x.shape, _dtype=x.dtype)  # plain caches, no registry
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, dout) -> np.ndarray:
        x_shape = self._require_cache("_x_shape")
        dout = as_input(dout, self._dtype, self, "dout")
        expected = (x_shape[0], math.prod(x_shape[1:]))
        _check_dout(self, dout, expected)
        return dout.reshape(x_shape)
