"""Fully connected layer and element-wise activations.

Shapes: N batch (any leading dimensions), D in features, M out features.
Every pass is one ``fastbp.ops`` call; no math is done in Python.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastbp import ops
from fastbp.nn.module import Module, Parameter, as_input, write_grads

__all__ = ["GELU", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _layer_dtype(dtype, layer: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{layer}: dtype must be float32 or float64, got {dtype!r}") from e
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"{layer}: dtype must be float32 or float64, got {dt}")
    return dt


def _as_rng(rng, layer: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{layer}: rng must be a numpy.random.Generator, an int seed or None, "
        f"got {type(rng).__name__}"
    )


def _positive_int(value, what: str, layer: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{layer}: {what} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{layer}: {what} must be >= 1, got {value}")
    return int(value)


def _init_std(init, in_features: int, layer: str) -> float:
    if isinstance(init, str):
        if init == "he":
            return math.sqrt(2.0 / in_features)
        if init == "xavier":
            return math.sqrt(1.0 / in_features)
        raise ValueError(f"{layer}: init must be 'he', 'xavier' or a float std, got {init!r}")
    if isinstance(init, numbers.Real) and not isinstance(init, bool):
        std = float(init)
        if not math.isfinite(std) or std < 0:
            raise ValueError(f"{layer}: init std must be finite and >= 0, got {init!r}")
        return std
    raise TypeError(f"{layer}: init must be 'he', 'xavier' or a float std, got {init!r}")


class Linear(Module):
    """Fully connected layer ``y = x @ weight + bias``.

    Args:
        in_features, out_features: D and M.
        bias: add a learnable bias (zero-initialised).
        init: weight initialisation, all zero-mean normal draws:
            ``"he"`` (std ``sqrt(2 / D)``, for ReLU nets; the default),
            ``"xavier"`` (std ``sqrt(1 / D)``: the simplified Xavier of "Deep
            Learning from Scratch", which uses fan-in only, not Glorot's
            ``sqrt(2 / (D + M))``), or a float std (the CS231n seeds use ``0.01``).
        dtype: float32 (fast path) or float64 (gradient checks).
        rng: ``numpy.random.Generator`` or int seed; the same seed gives the same
            weights. None draws fresh entropy.
        input_grad: when False, ``backward`` skips dx and returns None: for the
            first layer of a network, whose input is data (a third less work
            in its backward pass). PyTorch decides this from the input's
            ``requires_grad``.

    Shapes: ``weight`` (D, M) -- note: the textbooks' ``W``, the transpose of
    PyTorch's layout -- ``bias`` (M,); input (..., D) -> output (..., M).
    Input of another real dtype is converted to ``dtype`` (one copy); a wrong
    feature count raises ``ValueError`` naming the layer and both shapes.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: Union[str, float] = "he",
        dtype=np.float32,
        rng: Union[None, int, np.random.Generator] = None,
        input_grad: bool = True,
    ):
        super().__init__()
        name = "Linear"
        self.input_grad = bool(input_grad)
        self.in_features = _positive_int(in_features, "in_features", name)
        self.out_features = _positive_int(out_features, "out_features", name)
        self.dtype = _layer_dtype(dtype, name)
        std = _init_std(init, self.in_features, name)
        gen = _as_rng(rng, name)
        w = gen.standard_normal((self.in_features, self.out_features)) * std
        self.weight = Parameter(w.astype(self.dtype))
        self.bias: Optional[Parameter] = (
            Parameter(np.zeros(self.out_features, self.dtype)) if bias else None
        )
        self._x: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        return self._forward(x, relu=False)

    def backward(self, dout) -> Optional[np.ndarray]:
        """Returns dx (None when ``input_grad`` is False); adds ``x^T @ dout``
        into ``weight.grad`` and the row sums of dout into ``bias.grad``."""
        return self._backward(dout, gate=None)

    def fuse_next(self, following: Sequence[Module]) -> Optional[Tuple[Module, int]]:
        """A ReLU right after this layer runs with it as one :class:`LinearReLU` step."""
        if type(self) is Linear and following and type(following[0]) is ReLU:
            return LinearReLU(self, following[0]), 1
        return None

    def _forward(self, x, relu: bool) -> np.ndarray:
        """forward; with ``relu``, that of this layer and a ReLU after it, fused
        (:class:`LinearReLU`)."""
        x = as_input(x, self.dtype, self)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self._short_repr()}: input has shape {x.shape}, "
                f"expected (..., {self.in_features}) (N, in_features)"
            )
        self.__dict__["_x"] = x  # a plain cache: skips Module.__setattr__'s registry checks
        bias = self.bias
        b = None if bias is None else bias.data
        affine = ops.linear_relu_forward if relu else ops.linear_forward
        if x.ndim == 2:
            return affine(x, self.weight.data, b)
        y = affine(x.reshape(-1, self.in_features), self.weight.data, b)
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def _backward(self, dout, gate: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """backward; with ``gate`` (the output of ``_forward(x, relu=True)``), that of
        the fused pair: dout passes where gate > 0."""
        x = self._require_cache("_x")
        dout = as_input(dout, self.dtype, self, "dout")
        expected = x.shape[:-1] + (self.out_features,)
        if dout.shape != expected:
            raise ValueError(
                f"{self._short_repr()}: dout has shape {dout.shape}, expected {expected} "
                f"(the shape of the last forward output)"
            )
        if x.ndim != 2:
            dout = dout.reshape(-1, self.out_features)
            x = x.reshape(-1, self.in_features)
        w = self.weight.data

        def compute(grads, accumulate):
            w_grad, b_grad = grads
            if gate is None:
                return ops.linear_backward_accumulate(
                    dout, x, w, w_grad, b_grad, input_grad=self.input_grad, accumulate=accumulate
                )
            return ops.linear_relu_backward_accumulate(
                dout, x, w, gate.reshape(dout.shape), w_grad, b_grad,
                input_grad=self.input_grad, accumulate=accumulate,
            )

        dx = write_grads((self.weight, self.bias), compute)
        if dx is None or dx.ndim == len(expected):
            return dx
        return dx.reshape(expected[:-1] + (self.in_features,))

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}, "
        text += f"bias={self.bias is not None}"
        if not self.input_grad:
            text += ", input_grad=False"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype.name}"
        return text


class _Activation(Module):
    """An element-wise, parameter-free layer. Input keeps float32/float64;
    other real dtypes are converted by NumPy's promotion with float32 (see
    :func:`fastbp.nn.module.float_dtype_for`)."""

    def _dout(self, dout, like: np.ndarray) -> np.ndarray:
        dout = as_input(dout, like.dtype, self, "dout")
        if dout.shape != like.shape:
            raise ValueError(
                f"{self._short_repr()}: dout has shape {dout.shape}, expected {like.shape} "
                f"(the shape of the last forward input)"
            )
        return dout


class ReLU(_Activation):
    """``max(x, 0)``; backward passes dout where ``x > 0`` (0 at the kink)."""

    def __init__(self) -> None:
        super().__init__()
        self._x: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        x = as_input(x, None, self)
        self.__dict__["_x"] = x  # a plain cache: skips Module.__setattr__'s registry checks
        return ops.relu_forward(x)

    def backward(self, dout) -> np.ndarray:
        x = self._require_cache("_x")
        return ops.relu_backward(self._dout(dout, x), x)

    def fuse_next(self, following: Sequence[Module]) -> Optional[Tuple[Module, int]]:
        """A MaxPool2d right after this ReLU runs with it as one
        :class:`fastbp.nn.conv.ReLUMaxPool2d` step (max commutes with the ReLU)."""
        from fastbp.nn.conv import MaxPool2d, ReLUMaxPool2d  # conv builds on this module

        if type(self) is ReLU and following and type(following[0]) is MaxPool2d:
            return ReLUMaxPool2d(self, following[0]), 1
        return None

    def clear_cache(self) -> None:
        """Forgets the input cached by forward."""
        self.__dict__["_x"] = None


class LinearReLU(Module):
    """A Sequential's ``Linear`` and the ``ReLU`` after it, run as one step, as
    :meth:`Linear.fuse_next` offers: one call into the core applies the ReLU to
    the product while it is warm in cache, and one call runs both backward passes
    (``ops.linear_relu_forward`` / ``linear_relu_backward_accumulate``).

    It holds the two modules without owning them (they stay the Sequential's
    children, with their own names and repr). Its forward clears the ReLU's own
    cache, so calling the ReLU's ``backward`` alone raises instead of using a
    stale cache.
    """

    def __init__(self, linear: Linear, relu: ReLU) -> None:
        super().__init__()
        # __dict__ directly: plain references, not registered children.
        self.__dict__.update(linear=linear, relu=relu, _y=None)

    def forward(self, x) -> np.ndarray:
        """relu(x @ W + b): (N, D) -> (N, M), bitwise the two layers' outputs."""
        self.relu.clear_cache()
        y = self.linear._forward(x, relu=True)
        self.__dict__["_y"] = y
        return y

    def backward(self, dout) -> Optional[np.ndarray]:
        """dx of both layers (None when the Linear has ``input_grad=False``); adds
        the Linear's parameter gradients, bitwise those of the unfused pair."""
        y = self._require_cache("_y")
        return self.linear._backward(dout, gate=y)

    def _short_repr(self) -> str:
        return f"{self.linear._short_repr()} + {self.relu._short_repr()}"


class LeakyReLU(_Activation):
    """``x`` where ``x > 0``, else ``negative_slope * x`` (PyTorch's default 0.01)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not isinstance(negative_slope, numbers.Real) or isinstance(negative_slope, bool):
            raise TypeError(
                f"LeakyReLU: negative_slope must be a float, got {type(negative_slope).__name__}"
            )
        self.negative_slope = float(negative_slope)
        self._x: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        self._x = as_input(x, None, self)
        return ops.leaky_relu_forward(self._x, self.negative_slope)

    def backward(self, dout) -> np.ndarray:
        x = self._require_cache("_x")
        return ops.leaky_relu_backward(self._dout(dout, x), x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``; backward uses the cached output: ``dout * y * (1 - y)``."""

    def __init__(self) -> None:
        super().__init__()
        self._y: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        self._y = ops.sigmoid_forward(as_input(x, None, self))
        return self._y

    def backward(self, dout) -> np.ndarray:
        y = self._require_cache("_y")
        return ops.sigmoid_backward(self._dout(dout, y), y)


class Tanh(_Activation):
    """``tanh(x)``; backward uses the cached output: ``dout * (1 - y**2)``."""

    def __init__(self) -> None:
        super().__init__()
        self._y: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        self._y = ops.tanh_forward(as_input(x, None, self))
        return self._y

    def backward(self, dout) -> np.ndarray:
        y = self._require_cache("_y")
        return ops.tanh_backward(self._dout(dout, y), y)


class GELU(_Activation):
    """GELU in PyTorch's ``approximate="tanh"`` form (``nn.GELU(approximate="tanh")``):
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))``; backward uses
    the cached input (see :func:`fastbp.ops.gelu_backward`)."""

    def __init__(self) -> None:
        super().__init__()
        self._x: Optional[np.ndarray] = None

    def forward(self, x) -> np.ndarray:
        """gelu(x), any shape; caches x for backward."""
        x = as_input(x, None, self)
        self.__dict__["_x"] = x  # a plain cache: skips Module.__setattr__'s registry checks
        return ops.gelu_forward(x)

    def backward(self, dout) -> np.ndarray:
        """``dout * gelu'(x)`` for the x of the last forward."""
        x = self._require_cache("_x")
        return ops.gelu_backward(self._dout(dout, x), x)
