"""Adjacent layers that a Sequential runs as one step.

- A ``Linear`` directly followed by a ``ReLU``: one call into the core applies
  the ReLU to the product while it is warm in cache, and one call runs both
  backward passes (``ops.linear_relu_forward`` / ``_backward_accumulate``).
- A ``ReLU`` directly followed by a ``MaxPool2d``: max commutes with the ReLU,
  so the pooling reads its input once and relu(x) is never stored; backward
  routes dout to the window maxima and applies the ReLU's mask in the same pass
  (``ops.relu_max_pool2d_forward`` / ``_backward``).
- A ``Conv2d`` before such a pair (the conv - ReLU - pool block of most CNNs):
  each sample's convolution output is pooled while it is in cache and never
  stored, and backward builds each sample's gradient at that output in cache
  just before the convolution's backward reads it
  (``ops.conv2d_relu_max_pool2d_forward`` / ``_backward``).

Outputs and gradients are bitwise those of the layers run one after the other.
A ReLU between a Linear and a MaxPool2d fuses with the Linear.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

import numpy as np

from fastbp import ops
from fastbp.nn.conv import Conv2d, MaxPool2d
from fastbp.nn.dense import Linear, ReLU
from fastbp.nn.module import Module, as_input

__all__ = ["fused_steps"]


class ReLUMaxPool2d(Module):
    """A Sequential's ``ReLU`` and the ``MaxPool2d`` after it, run as one step.

    It holds the two modules without owning them (they stay the Sequential's
    children, with their own names and repr). While this step runs, the two
    modules' own forward caches are cleared, so calling ``backward`` on either
    alone raises instead of using a stale cache.
    """

    def __init__(self, relu: ReLU, pool: MaxPool2d) -> None:
        super().__init__()
        # __dict__ directly: plain references, not registered children.
        self.__dict__.update(relu=relu, pool=pool, _y=None, _argmax=None)

    def forward(self, x) -> np.ndarray:
        relu: ReLU = self.relu
        pool: MaxPool2d = self.pool
        x = pool._prepare(as_input(x, None, relu))  # ReLU's conversion, the pool's checks
        relu.__dict__["_x"] = None
        pool.__dict__["_argmax"] = None
        y, argmax = ops.relu_max_pool2d_forward(x, pool.kernel_size, pool.stride)
        self.__dict__.update(_y=y, _argmax=argmax)
        return y

    def backward(self, dout) -> np.ndarray:
        argmax = self._require_cache("_argmax")
        pool: MaxPool2d = self.pool
        return ops.relu_max_pool2d_backward(pool._dout(dout), argmax, self._y, pool._x_shape)

    def _short_repr(self) -> str:
        return f"{self.relu._short_repr()} + {self.pool._short_repr()}"


class ConvReLUMaxPool2d(Module):
    """A Sequential's ``Conv2d``, ``ReLU`` and ``MaxPool2d``, run as one step; like
    :class:`ReLUMaxPool2d`, it holds the three without owning them, and clears
    the ReLU's and the pool's caches (the convolution's holds its input)."""

    def __init__(self, conv: Conv2d, relu: ReLU, pool: MaxPool2d) -> None:
        super().__init__()
        self.__dict__.update(conv=conv, relu=relu, pool=pool, _y=None, _argmax=None)

    def forward(self, x) -> np.ndarray:
        conv: Conv2d = self.conv
        pool: MaxPool2d = self.pool
        x = conv._prepare(x)
        pool._prepare_shape(conv._y_shape, x.dtype)
        self.relu.__dict__["_x"] = None
        pool.__dict__["_argmax"] = None
        b = None if conv.bias is None else conv.bias.data
        y, argmax = ops.conv2d_relu_max_pool2d_forward(
            x, conv.weight.data, b, conv.stride, conv.padding, pool.kernel_size, pool.stride
        )
        self.__dict__.update(_y=y, _argmax=argmax)
        return y

    def backward(self, dout) -> Optional[np.ndarray]:
        argmax = self._require_cache("_argmax")
        conv: Conv2d = self.conv
        dout = self.pool._dout(dout)
        x = conv._require_cache("_x")
        dx, dw, db = ops.conv2d_relu_max_pool2d_backward(
            dout, argmax, self._y, x, conv.weight.data, conv.stride, conv.padding,
            input_grad=conv.input_grad,
        )
        conv._accumulate_grads(dw, db)
        return dx

    def _short_repr(self) -> str:
        return " + ".join(m._short_repr() for m in (self.conv, self.relu, self.pool))


class LinearReLU(Module):
    """A Sequential's ``Linear`` and the ``ReLU`` after it, run as one step; like
    :class:`ReLUMaxPool2d`, it holds the two without owning them, and clears the
    ReLU's own cache."""

    def __init__(self, linear: Linear, relu: ReLU) -> None:
        super().__init__()
        self.__dict__.update(linear=linear, relu=relu, _y=None)

    def forward(self, x) -> np.ndarray:
        self.relu.__dict__["_x"] = None
        y = self.linear._forward(x, relu=True)
        self.__dict__["_y"] = y
        return y

    def backward(self, dout) -> Optional[np.ndarray]:
        y = self._require_cache("_y")
        return self.linear._backward(dout, gate=y)

    def _short_repr(self) -> str:
        return f"{self.linear._short_repr()} + {self.relu._short_repr()}"


def fused_steps(modules: Iterable[Module]) -> List[Module]:
    """``modules`` in order, with each ``Linear`` directly followed by a ``ReLU``
    replaced by one :class:`LinearReLU` step, then each remaining ``ReLU``
    directly followed by a ``MaxPool2d`` by one :class:`ReLUMaxPool2d` step, or
    with the ``Conv2d`` right before them by one :class:`ConvReLUMaxPool2d`.
    Only these exact classes fuse: a subclass may change what its forward or
    backward does."""
    steps: List[Module] = []
    for module in modules:
        last = steps[-1] if steps else None
        if type(module) is ReLU and type(last) is Linear:
            steps[-1] = LinearReLU(last, module)
        elif type(module) is MaxPool2d and type(last) is ReLU:
            before = steps[-2] if len(steps) >= 2 else None
            if type(before) is Conv2d:
                steps[-2:] = [ConvReLUMaxPool2d(before, last, module)]
            else:
                steps[-1] = ReLUMaxPool2d(last, module)
        else:
            steps.append(module)
    return steps
