"""Shared helpers for the tests: tolerances, thread settings, subprocesses."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import threading
import time
from typing import Dict, Iterator, Optional

import numpy as np
import pytest

import fastbp


def tolerance(dtype) -> Dict[str, float]:
    """rtol/atol for comparing fastbp with the NumPy reference in `dtype`."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-4, "atol": 1e-5}
    return {"rtol": 1e-10, "atol": 1e-12}


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run the block with fastbp using `n` threads, then restore the setting.

    A build without OpenMP runs on one thread only, so a test that needs more is skipped
    there (tests/test_runtime.py checks that such a build says so).
    """
    if n > 1 and not fastbp.build_info()["openmp"]:
        pytest.skip("this build has no OpenMP: one thread only")
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


# IDX (MNIST) type codes of each element type.
IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray, code=None, dims=None) -> bytes:
    """The IDX encoding of arr (big-endian); code/dims override the header."""
    arr = np.asarray(arr)
    code = IDX_CODES[arr.dtype.type] if code is None else code
    dims = arr.shape if dims is None else dims
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def ticks_during(call, attempts: int = 5) -> int:
    """How many times another Python thread ran strictly inside `call()` (run on one fastbp
    thread, so a core stays free for it): the proof that `call` releases the GIL. A long
    switch interval keeps the interpreter from handing the GIL over at the bytecodes around
    the call, so with the GIL held no tick can fall between its start and its end. Tries up
    to `attempts` calls and returns the first nonzero count (a busy machine may not schedule
    the other thread during one call), or 0."""
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)  # sleeps without the GIL, so the caller never waits for it

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    thread = threading.Thread(target=counter)
    thread.start()
    try:
        with num_threads(1):
            for _ in range(attempts):
                start = time.perf_counter()
                call()
                end = time.perf_counter()
                during = sum(1 for t in list(ticks) if start < t < end)
                if during:
                    return during
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch_interval)
    return 0
