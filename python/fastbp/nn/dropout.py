"""Inverted dropout (Srivastava et al. 2014), as PyTorch's ``nn.Dropout``."""

from __future__ import annotations

import numbers
from typing import Optional, Union

import numpy as np

from fastbp import ops
from fastbp.nn.dense import _as_rng
from fastbp.nn.module import Module, as_input

__all__ = ["Dropout"]


class Dropout(Module):
    """Zeroes each element with probability ``p`` while training and scales the
    kept ones by ``1 / (1 - p)`` ("inverted" dropout), so nothing changes at test
    time: in ``eval()`` mode (and for ``p == 0``) it is the identity.

    Args:
        p: drop probability in [0, 1] (0.5, as PyTorch); ``p == 1`` outputs zeros.
        rng: ``numpy.random.Generator`` or int seed; each training forward pass
            draws one 63-bit seed from it for the core's counter-based mask, so
            the same seed gives the same sequence of masks (for any thread count).

    ``backward(dout)`` multiplies by the mask of the last forward pass: the same
    elements are dropped and the same scale applied. Input keeps float32/float64
    (other real dtypes are converted as by the activations).
    """

    def __init__(self, p: float = 0.5, *, rng: Union[None, int, np.random.Generator] = None):
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool):
            raise TypeError(f"Dropout: p must be a float, got {type(p).__name__}")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self._rng = _as_rng(rng, "Dropout")
        self._mask: Optional[np.ndarray] = None
        self._shape: Optional[tuple] = None

    def forward(self, x) -> np.ndarray:
        x = as_input(x, None, self)
        self._shape = x.shape
        if not self.training or self.p == 0:
            self._mask = None
            return x
        seed = int(self._rng.integers(0, 2**63))
        out, self._mask = ops.dropout_forward(x, self.p, seed)
        return out

    def backward(self, dout) -> np.ndarray:
        shape = self._require_cache("_shape")
        dtype = np.float32 if self._mask is None else self._mask.dtype
        dout = as_input(dout, None if self._mask is None else dtype, self, "dout")
        if dout.shape != shape:
            raise ValueError(f"{self._short_repr()}: dout has shape {dout.shape}, expected "
                             f"{shape} (the shape of the last forward input)")
        if self._mask is None:  # identity (eval mode or p == 0)
            return dout
        return ops.dropout_backward(dout, self._mask)

    @property
    def mask(self) -> Optional[np.ndarray]:
        """The last training forward pass's mask (0 or ``1 / (1 - p)``), None after
        an identity pass."""
        return self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
