"""The runner behind ``fastbp bench``: times the workloads of
:mod:`fastbp.bench.workloads` interleaved in one process, so that machine noise
hits all implementations alike, and reports them.

The runner times each workload's implementations round-robin and reports
medians, GFLOP/s where a flop count is known, and the ratio of each baseline's
median to fastbp's (> 1: fastbp faster). A second table, from
:mod:`fastbp.bench.mixed`, times each library's matmul right after the other's.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

import fastbp
from fastbp import _core
from fastbp.bench.jax_steps import jax_or_none, jax_threads_note
from fastbp.bench.mixed import format_mixed, mixed_workload
from fastbp.bench.workloads import IMPLS, Workload, default_workloads, torch_or_none


@dataclass
class Result:
    name: str
    flops: Optional[float]
    median_s: Dict[str, float]

    def gflops(self, impl: str) -> Optional[float]:
        if self.flops is None or impl not in self.median_s:
            return None
        return self.flops / self.median_s[impl] / 1e9

    def ratio(self, impl: str) -> Optional[float]:
        """Baseline median / fastbp median: how many times faster fastbp is."""
        if impl not in self.median_s or "fastbp" not in self.median_s:
            return None
        return self.median_s[impl] / self.median_s["fastbp"]


# --- running and reporting ----------------------------------------------------


# After a call, OpenBLAS's worker threads keep spinning for up to ~0.1 s (and
# OpenMP's for a shorter while), taking a core from whatever runs next. Each
# sample therefore starts after this pause, so that it times one library alone,
# then makes one untimed call: on this machine the first call after such a pause
# ran 2.4-6.6x slower than a warm one (sgemm 384: fastbp 6.3-6.6x, NumPy 2.4-2.5x,
# PyTorch 3.0-6.5x), as idle cores and threads wake up.
SETTLE_S = 0.15


def measure(workload: Workload, repeats: int, min_time_s: float = 0.05,
            settle_s: float = SETTLE_S) -> Result:
    """Times each implementation round-robin; each sample repeats the call until
    it has run at least `min_time_s`, and the median sample per call is kept.
    Before each sample the runner sleeps `settle_s` and makes one untimed call
    (see SETTLE_S)."""
    loops: Dict[str, int] = {}
    for impl, fn in workload.impls.items():  # warm up and size the inner loop
        fn()
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        loops[impl] = max(1, int(min_time_s / once))
    samples: Dict[str, List[float]] = {impl: [] for impl in workload.impls}
    for _ in range(repeats):
        for impl, fn in workload.impls.items():
            time.sleep(settle_s)
            fn()
            start = time.perf_counter()
            for _ in range(loops[impl]):
                fn()
            samples[impl].append((time.perf_counter() - start) / loops[impl])
    medians = {impl: statistics.median(s) for impl, s in samples.items()}
    return Result(workload.name, workload.flops, medians)


def environment() -> Dict[str, object]:
    """Which kernels and thread counts each implementation used."""
    env: Dict[str, object] = {"fastbp": fastbp.build_info(), "numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info

        env["numpy_blas"] = [
            {k: lib.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ]
    except ImportError:
        env["numpy_blas"] = "unknown (pip install threadpoolctl)"
    env["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    threads = fastbp.get_num_threads()
    env["fma_peak_gflops"] = {"threads": threads, "float32": _core.fma_peak_gflops(threads)}
    torch = torch_or_none()
    if torch is not None:
        env["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    jax = jax_or_none()
    if jax is not None:
        env["jax"] = {"version": jax.__version__, "threads": jax_threads_note()}
    return env


# Table headings of the implementations (IMPLS order).
IMPL_NAMES = {"fastbp": "fastbp", "numpy": "NumPy", "torch": "PyTorch", "jax": "JAX"}


def _columns(results: List[Result]) -> List[str]:
    """The implementations any result has, in IMPLS order (JAX only where installed)."""
    return [impl for impl in IMPLS if any(impl in r.median_s for r in results)]


def format_table(results: List[Result]) -> str:
    """A Markdown table: workload, medians, GFLOP/s and each baseline's ratio to fastbp."""
    impls = _columns(results) or ["fastbp"]
    baselines = [impl for impl in impls if impl != "fastbp"]
    head = ["workload"] + [IMPL_NAMES[i] for i in impls]
    head += [f"{IMPL_NAMES[i]} / fastbp" for i in baselines]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(r: Result, impl: str) -> str:
        if impl not in r.median_s:
            return "-"
        text = f"{r.median_s[impl] * 1e3:.3f} ms"
        gf = r.gflops(impl)
        return text + (f" ({gf:.0f} GFLOP/s)" if gf is not None else "")

    def ratio(r: Result, impl: str) -> str:
        value = r.ratio(impl)
        return "-" if value is None else f"{value:.2f}x"

    for r in results:
        cells = [r.name] + [cell(r, i) for i in impls] + [ratio(r, i) for i in baselines]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


CONV_FLOPS_NOTE = (
    "Convolution GFLOP/s count the direct algorithm's 2 N OC C KH KW OH OW flops per pass; "
    "fastbp's Winograd (3x3 filters, 16 or more channels) performs fewer, so its rate is "
    "direct-equivalent and can exceed the machine's peak.")


def format_peak_share(results: List[Result], peak_gflops: float) -> str:
    """A Markdown table: each timed product's GFLOP/s as a share of the measured
    multiply-add peak (float64 rows against half of it: half the lanes). Rows
    timed at another thread count than the peak's are left out, and so are the
    convolutions, whose flop counts are direct-equivalent (CONV_FLOPS_NOTE)."""
    impls = _columns(results) or ["fastbp"]
    rows = ["| workload | " + " | ".join(IMPL_NAMES[i] for i in impls) + " |",
            "|" + "---|" * (len(impls) + 1)]
    for r in results:
        if r.flops is None or "thread" in r.name or r.name.startswith("conv"):
            continue
        peak = peak_gflops / 2 if r.name.startswith("dgemm") else peak_gflops
        cells = []
        for impl in impls:
            g = r.gflops(impl)
            cells.append("-" if g is None else f"{100 * g / peak:.0f}%")
        rows.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(results: List[Result], path: str) -> None:
    """Bar chart of speed relative to fastbp (fastbp = 1; higher is faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in results]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    impls = _columns(results)
    height = 0.8 / len(impls)
    for i, impl in enumerate(impls):
        speed = [
            (r.median_s["fastbp"] / r.median_s[impl]) if impl in r.median_s else 0.0
            for r in results
        ]
        ax.barh([j + i * height for j in range(len(names))], speed, height,
                label=IMPL_NAMES[impl])
    ax.set_yticks([j + height for j in range(len(names))], names)
    ax.invert_yaxis()
    ax.axvline(1.0, color="gray", lw=0.8)
    ax.set_xlabel("speed relative to fastbp (higher is faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(quick: bool = False, repeats: Optional[int] = None, json_path: Optional[str] = None,
        plot_path: Optional[str] = None, log=print) -> List[Result]:
    """Runs the benchmark table, prints it through `log`, optionally saves JSON and a plot."""
    repeats = repeats or (5 if quick else 9)
    env = environment()
    log(f"fastbp {env['fastbp']['version']}: ISA of this run {env['fastbp']['isa']} "
        f"(this CPU runs {', '.join(env['fastbp']['isas'])}; fastbp bench --isa NAME), "
        f"{env['fastbp']['num_threads']} threads; NumPy BLAS: {env['numpy_blas']}; "
        f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}; "
        f"PyTorch: {env.get('torch', 'not installed')}; JAX: {env.get('jax', 'not installed')}")
    results = []
    for build in default_workloads(quick):
        workload = build()
        results.append(measure(workload, repeats))
        log(f"  measured {workload.name}")
    log(format_table(results))
    log("\n" + CONV_FLOPS_NOTE)
    peak = env["fma_peak_gflops"]
    log(f"\nShare of the measured float32 multiply-add peak, {peak['float32']:.0f} GFLOP/s "
        f"on {peak['threads']} threads (fastbp.bench.format_peak_share):")
    log(format_peak_share(results, peak["float32"]))
    mixed = mixed_workload(512 if quick else 1024, repeats, SETTLE_S)
    log("\nMixed workload: one library's matmul right after the other's "
        "(idle threads still spinning)")
    log(format_mixed(mixed))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env, "results": [r.__dict__ for r in results],
                       "mixed_workload": mixed}, f, indent=2)
    if plot_path:
        plot(results, plot_path)
        log(f"chart written to {plot_path}")
    return results
