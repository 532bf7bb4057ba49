"""Adjacent layers that a Sequential runs as one pass over memory.

A ``ReLU`` directly followed by a ``MaxPool2d`` (the conv - ReLU - pool block of
most CNNs) becomes one step: max commutes with the ReLU, so the pooling reads
the convolution's output once and relu(x) is never stored; backward routes
dout to the window maxima and applies the ReLU's mask in the same pass
(``ops.relu_max_pool2d_forward`` / ``_backward``). Outputs and gradients are
bitwise those of the two layers run one after the other.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

import numpy as np

from fastbp import ops
from fastbp.nn.conv import MaxPool2d
from fastbp.nn.dense import ReLU
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


def fused_steps(modules: Iterable[Module]) -> List[Module]:
    """``modules`` in order, each ``ReLU`` directly followed by a ``MaxPool2d``
    replaced by one :class:`ReLUMaxPool2d` step. Only these exact classes fuse:
    a subclass may change what its forward or backward does."""
    steps: List[Module] = []
    pending_relu: Optional[ReLU] = None
    for module in modules:
        if pending_relu is not None:
            if type(module) is MaxPool2d:
                steps.append(ReLUMaxPool2d(pending_relu, module))
                pending_relu = None
                continue
            steps.append(pending_relu)
            pending_relu = None
        if type(module) is ReLU:
            pending_relu = module
        else:
            steps.append(module)
    if pending_relu is not None:
        steps.append(pending_relu)
    return steps
