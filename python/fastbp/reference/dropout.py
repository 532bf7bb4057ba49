"""Inverted dropout ops and their NumPy twins."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from fastbp._optable import op

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _splitmix64(z):
    """splitmix64 on uint64 arrays (wrapping arithmetic), as the core computes it."""
    z = (z + np.uint64(_GOLDEN)) & np.uint64(_MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@op
def dropout_forward(x: np.ndarray, p: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: returns ``(x * mask, mask)`` with ``mask`` 0 (probability
    ``p``) or ``1 / (1 - p)``, of x's shape and dtype; ``p == 1`` drops everything.

    Element i's draw is a hash of ``(seed, i)`` (splitmix64), so one seed gives
    one mask, for any thread count; ``seed`` is an int in ``[0, 2**64)``.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    with np.errstate(over="ignore"):
        base = _splitmix64(np.array(seed, dtype=np.uint64))
        idx = np.arange(x.size, dtype=np.uint64)
        bits = _splitmix64(base + idx * np.uint64(_GOLDEN))
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    scale = x.dtype.type(1.0 / (1.0 - p)) if p < 1 else x.dtype.type(0)
    mask = np.where(u >= p, scale, x.dtype.type(0)).astype(x.dtype).reshape(x.shape)
    return x * mask, mask


@op
def dropout_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``dout * mask``: the gradient flows through the kept elements, scaled alike."""
    return dout * mask
