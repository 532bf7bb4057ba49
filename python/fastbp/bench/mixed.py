"""The mixed-workload check of ``fastbp bench``: one library's matmul timed right
after the other's.

After a call, a library's idle worker threads spin for a while before they
sleep, and a call from the other library that starts meanwhile shares the cores
with them. Each row times the same sgemm twice: right after a call of its own
library (the baseline) and right after a call of the other one; the ratio is the
slowdown. Both are timed warm: each sample starts with a pause, a call of the
timed library, then the preceding call, then the timed call.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

import numpy as np

import fastbp


def _median_after(before: Callable[[], object], timed: Callable[[], object], repeats: int,
                  settle_s: float) -> float:
    """Median time of `timed` called right after `before`, each sample after a pause
    of `settle_s` and one untimed call of `timed` (so that it runs warm)."""
    samples = []
    for _ in range(repeats):
        time.sleep(settle_s)
        timed()
        before()
        start = time.perf_counter()
        timed()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def mixed_workload(n: int, repeats: int, settle_s: float) -> List[Dict[str, object]]:
    """Rows ``{"timed", "after_same_s", "after_other_s", "slowdown"}`` for a
    float32 n x n matmul of fastbp after NumPy and of NumPy after fastbp;
    `settle_s` should outlast either library's spinning threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)

    def run_fastbp():
        return fastbp.matmul(a, b)

    def run_numpy():
        return a @ b

    rows = []
    for name, own, other in (("fastbp", run_fastbp, run_numpy), ("NumPy", run_numpy, run_fastbp)):
        same = _median_after(own, own, repeats, settle_s)
        mixed = _median_after(other, own, repeats, settle_s)
        rows.append({"timed": f"{name} sgemm {n}", "after_same_s": same, "after_other_s": mixed,
                     "slowdown": mixed / same})
    return rows


def format_mixed(rows: List[Dict[str, object]]) -> str:
    """A Markdown table of :func:`mixed_workload` rows."""
    lines = ["| timed call | right after its own library | right after the other | slowdown |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['timed']} | {r['after_same_s'] * 1e3:.3f} ms "
                     f"| {r['after_other_s'] * 1e3:.3f} ms | {r['slowdown']:.2f}x |")
    return "\n".join(lines)
