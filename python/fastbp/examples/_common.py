"""Small helpers shared by the training loops (not public)."""

from __future__ import annotations

import numbers
import time
from typing import Any, Dict

import numpy as np


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_real(value: Any, name: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value}")
    if nonneg and not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value}")
    return value


class Stopwatch:
    """``with Stopwatch() as sw: ...``; then ``sw.seconds``."""

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._start


def copy_params(named: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Snapshot of parameter arrays (the optimizer updates them in place)."""
    return {k: np.array(v, copy=True) for k, v in named.items()}
