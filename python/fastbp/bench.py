"""The comparison behind ``fastbp bench``: fastbp against the NumPy reference
and PyTorch (when installed) on the workloads of the performance issue,
measured interleaved in one process so that machine noise hits all alike.

Each workload offers one zero-argument callable per implementation; the runner
times them round-robin and reports medians, GFLOP/s where a flop count is
known, and the ratio of each baseline's median to fastbp's (> 1: fastbp faster).
A second table, from :mod:`fastbp.bench_mixed`, times each library's matmul
right after the other's.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

import fastbp
from fastbp import _core
from fastbp import reference as ref
from fastbp.bench_mixed import format_mixed, mixed_workload

IMPLS = ("fastbp", "numpy", "torch")


@dataclass
class Workload:
    """One benchmark row: a name, its flop count (or None), one callable per implementation."""

    name: str
    flops: Optional[float]
    impls: Dict[str, Callable[[], object]] = field(default_factory=dict)


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


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(fastbp.get_num_threads())
    return torch


# --- workloads --------------------------------------------------------------


def gemm_workload(m: int, k: int, n: int, dtype=np.float32, threads: Optional[int] = None):
    """C (m, n) = A (m, k) @ B (k, n)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    prefix = "sgemm" if dtype == np.float32 else "dgemm"
    name = f"{prefix} {m}x{k}x{n}" if not m == k == n else f"{prefix} {m}"
    if threads is not None:
        name += f" ({threads} thread{'s' if threads > 1 else ''})"
    w = Workload(name, 2.0 * m * n * k)

    def run_fastbp():
        if threads is None:
            return fastbp.gemm(a, b, c)
        before = fastbp.get_num_threads()
        fastbp.set_num_threads(threads)
        try:
            return fastbp.gemm(a, b, c)
        finally:
            fastbp.set_num_threads(before)

    w.impls["fastbp"] = run_fastbp
    if threads is None:
        w.impls["numpy"] = lambda: np.matmul(a, b, out=c)
        torch = _torch()
        if torch is not None:
            ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
            w.impls["torch"] = lambda: torch.matmul(ta, tb, out=tc)
    return w


def spiral_step_workload():
    """One full-batch step of the CS231n 2-100-3 ReLU net on 300 spiral points."""
    from fastbp import data, losses, nn, optim

    X, y = data.spiral(seed=0)
    w = Workload("spiral 2-100-3 step", None)
    model = nn.Sequential(nn.Linear(2, 100, init=0.01, rng=0, input_grad=False), nn.ReLU(),
                          nn.Linear(100, 3, init=0.01, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=1.0)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        losses.l2_penalty(model, 1e-3)
        model.backward(loss.backward())
        opt.step()

    w.impls["fastbp"] = run_fastbp
    w.impls["numpy"] = _numpy_mlp_step([2, 100, 3], X, y, lr=1.0, reg=1e-3)
    torch_step = _torch_mlp_step([2, 100, 3], X, y, lr=1.0, reg=1e-3)
    if torch_step is not None:
        w.impls["torch"] = torch_step
    return w


def mlp_step_workload(batch: int = 128):
    """One SGD step of a 784-256-10 ReLU net on a batch of random 'images'."""
    from fastbp import losses, nn, optim

    rng = np.random.default_rng(0)
    X = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    sizes = [784, 256, 10]
    w = Workload(f"MLP 784-256-10 step, batch {batch}", None)
    model = nn.Sequential(nn.Linear(784, 256, rng=0, input_grad=False), nn.ReLU(),
                          nn.Linear(256, 10, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    w.impls["fastbp"] = run_fastbp
    w.impls["numpy"] = _numpy_mlp_step(sizes, X, y, lr=0.1, reg=0.0)
    torch_step = _torch_mlp_step(sizes, X, y, lr=0.1, reg=0.0)
    if torch_step is not None:
        w.impls["torch"] = torch_step
    return w


def _numpy_mlp_step(sizes: List[int], X, y, lr: float, reg: float):
    """The same ReLU-MLP step in plain NumPy (the CS231n code, layer by layer)."""
    rng = np.random.default_rng(0)
    Ws = [(0.01 * rng.standard_normal((i, o))).astype(X.dtype) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, X.dtype) for o in sizes[1:]]

    def step():
        acts = [X]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = acts[-1] @ W + b
            acts.append(np.maximum(h, 0) if i < len(Ws) - 1 else h)
        _, dh = ref.softmax_cross_entropy(acts[-1], y)
        for i in reversed(range(len(Ws))):
            dW = acts[i].T @ dh + reg * Ws[i]
            db = dh.sum(axis=0)
            if i > 0:
                dh = dh @ Ws[i].T
                dh[acts[i] <= 0] = 0
            Ws[i] -= lr * dW
            bs[i] -= lr * db

    return step


def _torch_mlp_step(sizes: List[int], X, y, lr: float, reg: float):
    torch = _torch()
    if torch is None:
        return None
    layers: list = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=reg)
    tX, ty = torch.from_numpy(X), torch.from_numpy(np.asarray(y, np.int64))
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        criterion(model(tX), ty).backward()
        opt.step()

    return step


def conv_workload(n: int, c: int, hw: int, oc: int):
    """Conv 3x3, padding 1, forward + backward on x (n, c, hw, hw) -> oc channels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    w = (0.1 * rng.standard_normal((oc, c, 3, 3))).astype(np.float32)
    b = np.zeros(oc, np.float32)
    dout = rng.standard_normal((n, oc, hw, hw)).astype(np.float32)
    # The direct algorithm's flops (forward, dx and dw): fastbp's Winograd performs fewer, so
    # its GFLOP/s is a direct-equivalent rate (see CONV_FLOPS_NOTE).
    flops = 3 * 2.0 * n * oc * hw * hw * c * 9
    wl = Workload(f"conv 3x3 ({n},{c},{hw},{hw})->{oc} fwd+bwd", flops)

    def make(module):
        def step():
            module.conv2d_forward(x, w, b, 1, 1)
            module.conv2d_backward(dout, x, w, 1, 1)

        return step

    wl.impls["fastbp"] = make(fastbp.ops)
    wl.impls["numpy"] = make(ref)
    torch = _torch()
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w.copy()).requires_grad_()
        tb = torch.from_numpy(b.copy()).requires_grad_()
        tdout = torch.from_numpy(dout)

        def torch_step():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tdout)

        wl.impls["torch"] = torch_step
    return wl


def simple_convnet_workload(batch: int = 100):
    """One SGD step of the "Deep Learning from Scratch" SimpleConvNet on 1x28x28 input:
    conv 30 5x5 - ReLU - max-pool 2 - linear 4320-100 - ReLU - linear 100-10."""
    from fastbp import losses, optim
    from fastbp.examples.cnn import simple_convnet

    rng = np.random.default_rng(0)
    X = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    wl = Workload(f"SimpleConvNet step, batch {batch}", None)
    model = simple_convnet(init=0.01, rng=0)  # the first conv skips dx (input_grad=False)
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    wl.impls["fastbp"] = run_fastbp
    wl.impls["numpy"] = _numpy_convnet_step(X, y, lr=0.1)
    torch = _torch()
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(4320, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10),
        )
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)
        criterion = torch.nn.CrossEntropyLoss()

        def torch_step():
            topt.zero_grad()
            criterion(tmodel(tX), ty).backward()
            topt.step()

        wl.impls["torch"] = torch_step
    return wl


def _numpy_convnet_step(X, y, lr: float):
    """The SimpleConvNet step composed from the NumPy reference ops; like fastbp and
    PyTorch it skips the gradient of the input images."""
    rng = np.random.default_rng(0)
    p = {
        "w1": (0.01 * rng.standard_normal((30, 1, 5, 5))).astype(X.dtype),
        "b1": np.zeros(30, X.dtype),
        "w2": (0.01 * rng.standard_normal((4320, 100))).astype(X.dtype),
        "b2": np.zeros(100, X.dtype),
        "w3": (0.01 * rng.standard_normal((100, 10))).astype(X.dtype),
        "b3": np.zeros(10, X.dtype),
    }

    def step():
        c = ref.conv2d_forward(X, p["w1"], p["b1"], 1, 0)
        r = ref.relu_forward(c)
        pooled, argmax = ref.max_pool2d_forward(r, 2)
        flat = pooled.reshape(len(X), -1)
        h = ref.linear_forward(flat, p["w2"], p["b2"])
        hr = ref.relu_forward(h)
        scores = ref.linear_forward(hr, p["w3"], p["b3"])
        _, dscores = ref.softmax_cross_entropy(scores, y)
        dhr, g3w, g3b = ref.linear_backward(dscores, hr, p["w3"])
        dflat, g2w, g2b = ref.linear_backward(ref.relu_backward(dhr, h), flat, p["w2"])
        dr = ref.max_pool2d_backward(dflat.reshape(pooled.shape), argmax, r.shape)
        _, g1w, g1b = ref.conv2d_backward(ref.relu_backward(dr, c), X, p["w1"], 1, 0,
                                          input_grad=False)
        for name, g in (("w1", g1w), ("b1", g1b), ("w2", g2w), ("b2", g2b), ("w3", g3w),
                        ("b3", g3b)):
            p[name] -= lr * g

    return step


def default_workloads(quick: bool = False) -> List[Callable[[], Workload]]:
    """Builders for the performance issue's table (a lighter set with ``quick``)."""
    builders: List[Callable[[], Workload]] = [
        lambda: gemm_workload(1024, 1024, 1024),
        lambda: spiral_step_workload(),
        lambda: mlp_step_workload(),
        lambda: conv_workload(64, 32, 16, 64),
        lambda: simple_convnet_workload(),
    ]
    if quick:
        return builders
    builders += [
        lambda: gemm_workload(2048, 2048, 2048),
        lambda: gemm_workload(1024, 1024, 1024, np.float64),
        lambda: gemm_workload(128, 784, 256),
        lambda: gemm_workload(100, 4320, 100),
        lambda: gemm_workload(57600, 25, 30),
        lambda: gemm_workload(30, 57600, 25),
        lambda: gemm_workload(16384, 288, 64),
        lambda: gemm_workload(2048, 2048, 2048, threads=1),
        lambda: gemm_workload(2048, 2048, 2048, threads=2),
        lambda: conv_workload(64, 3, 32, 32),
    ]
    return builders


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
    torch = _torch()
    if torch is not None:
        env["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    return env


def format_table(results: List[Result]) -> str:
    """A Markdown table: workload, medians, GFLOP/s and ratios."""
    head = "| workload | fastbp | NumPy | PyTorch | NumPy / fastbp | PyTorch / fastbp |"
    rows = [head, "|---|---|---|---|---|---|"]

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
        rows.append(
            f"| {r.name} | {cell(r, 'fastbp')} | {cell(r, 'numpy')} | {cell(r, 'torch')} "
            f"| {ratio(r, 'numpy')} | {ratio(r, 'torch')} |"
        )
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
    rows = ["| workload | fastbp | NumPy | PyTorch |", "|---|---|---|---|"]
    for r in results:
        if r.flops is None or "thread" in r.name or r.name.startswith("conv"):
            continue
        peak = peak_gflops / 2 if r.name.startswith("dgemm") else peak_gflops
        cells = []
        for impl in ("fastbp", "numpy", "torch"):
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
    height = 0.8 / len(IMPLS)
    for i, impl in enumerate(IMPLS):
        speed = [
            (r.median_s["fastbp"] / r.median_s[impl]) if impl in r.median_s else 0.0
            for r in results
        ]
        ax.barh([j + i * height for j in range(len(names))], speed, height, label=impl)
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
    log(f"fastbp {env['fastbp']['version']}: isa {env['fastbp']['isa']}, "
        f"{env['fastbp']['num_threads']} threads; NumPy BLAS: {env['numpy_blas']}; "
        f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}; "
        f"PyTorch: {env.get('torch', 'not installed')}")
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
