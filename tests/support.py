"""Shared helpers for the tests: tolerances, thread settings, subprocesses."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Dict, Iterator, Optional

import numpy as np

import fastbp


def tolerance(dtype) -> Dict[str, float]:
    """rtol/atol for comparing fastbp with the NumPy reference in `dtype`."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-4, "atol": 1e-5}
    return {"rtol": 1e-10, "atol": 1e-12}


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run the block with fastbp using `n` threads, then restore the setting."""
    before = fastbp.get_num_threads()
    fastbp.set_num_threads(n)
    try:
        yield
    finally:
        fastbp.set_num_threads(before)


def run_python(code: str, env: Optional[Dict[str, str]] = None, timeout: float = 120):
    """Run `code` in a fresh interpreter; returns the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
