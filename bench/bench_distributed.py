"""What data-parallel training costs: measured here, modelled for a cluster.

Run ``python bench/bench_distributed.py`` (needs ``fastbp[distributed]`` and
matplotlib for the plot). It starts itself under ``mpiexec -n 1`` and ``-n 2``
(one fastbp thread per rank) and measures:

* per training step of the MLP 784-256-10 (global batch 128) and of the
  SimpleConvNet (1x28x28, global batch 100): the compute time (forward,
  backward, update) and the gradient Allreduce time, on 1 and 2 ranks, and the
  bytes each rank sends into the Allreduce;
* the compute time of one rank against its batch size (a line ``a + b * B``);
* the in-place float32 ``Allreduce`` of 1 KB to 64 MB between 2 ranks on this
  machine (loopback, shared memory): median time, latency and bandwidth.

From those, the ring-allreduce model ``T(p) = 2 (p - 1) * alpha + 2 (p - 1) / p
* bytes / bandwidth`` predicts the step time of p machines on 10, 25 and
100 Gbit/s links, each machine computing its per-rank batch in the time
measured here: speed-up ``p * t_compute / (t_compute + T(p))`` (the global
batch grows with p), and the batch per rank above which the Allreduce takes
less than 10% of a step. It prints markdown tables and writes the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LINKS_GBIT = (10, 25, 100)
MACHINES = (2, 4, 8, 16, 32, 64)
#: Per-message latency of an Ethernet link with MPI over TCP (an assumption,
#: not measured here: loopback shared memory is far faster).
NETWORK_LATENCY_S = 20e-6
SIZES = [2 ** k for k in range(10, 27, 2)]  # 1 KB .. 64 MB


# --- the ranks -------------------------------------------------------------------


def _models():
    from fastbp import nn
    from fastbp.examples.cnn import simple_convnet

    mlp = nn.Sequential(nn.Linear(784, 256, rng=0), nn.ReLU(), nn.Linear(256, 10, rng=1))
    return {"mlp": (mlp, (784,), 128), "cnn": (simple_convnet(rng=0), (1, 28, 28), 100)}


def _step_times(model, opt, comm, x, y, steps):
    """Seconds of compute (forward, loss, backward, update) and of the gradient
    Allreduce (after a barrier, so waiting for a slower rank is not counted):
    (median compute, median allreduce, min compute, min allreduce)."""
    from fastbp import losses

    loss = losses.SoftmaxCrossEntropy()
    compute, allreduce = [], []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss(model(x), y)
        model.backward(loss.backward())
        t1 = time.perf_counter()
        comm.Barrier()
        t2 = time.perf_counter()
        opt.synchronize()
        t3 = time.perf_counter()
        opt.optimizer.step()
        t4 = time.perf_counter()
        if i >= 3:  # warm-up steps left out
            compute.append((t1 - t0) + (t4 - t3))
            allreduce.append(t3 - t2)
    return (float(np.median(compute)), float(np.median(allreduce)), float(np.min(compute)),
            float(np.min(allreduce)))


def rank_main(out: str, steps: int) -> None:
    from fastbp import distributed, optim

    world = distributed.init()
    comm = world.comm
    rng = np.random.default_rng(world.rank)
    result = {"size": world.size, "threads": world.threads, "steps": {}, "scaling": {},
              "allreduce": {}}
    for name, (model, shape, batch) in _models().items():
        distributed.broadcast_parameters(model)
        opt = distributed.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.01,
                                                         momentum=0.9))
        local = distributed.shard_bounds(batch)[1] - distributed.shard_bounds(batch)[0]
        x = rng.standard_normal((local,) + shape).astype(np.float32)
        y = rng.integers(0, 10, local)
        compute, allreduce, compute_min, allreduce_min = _step_times(model, opt, comm, x, y,
                                                                     steps)
        result["steps"][name] = {"batch": batch, "local_batch": local, "compute_s": compute,
                                 "allreduce_s": allreduce, "compute_min_s": compute_min,
                                 "allreduce_min_s": allreduce_min, "bytes": opt.bytes_per_step}
        if world.size == 1:  # compute time against the per-rank batch
            points = []
            for b in (batch // 8, batch // 4, batch // 2, batch, 2 * batch):
                xb = rng.standard_normal((b,) + shape).astype(np.float32)
                points.append((b, _step_times(model, opt, comm, xb, rng.integers(0, 10, b),
                                              max(5, steps // 2))[2]))
            result["scaling"][name] = points
    if world.size > 1:
        from mpi4py import MPI

        for n in SIZES:
            buf = np.ones(n // 4, np.float32)
            reps = max(10, min(300, (1 << 26) // n))
            times = []
            for _ in range(reps + 2):
                comm.Barrier()
                t0 = time.perf_counter()
                comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
                times.append(time.perf_counter() - t0)
            result["allreduce"][n] = [float(np.median(times[2:])), float(np.min(times[2:]))]
    if world.is_root:
        Path(out).write_text(json.dumps(result))


# --- the driver ---------------------------------------------------------------------


def _launch(ranks: int, out: str, steps: int) -> dict:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks), sys.executable,
           __file__, "--rank", "--out", out, "--steps", str(steps)]
    subprocess.run(cmd, check=True, env=env, timeout=1800)
    return json.loads(Path(out).read_text())


def fit_link(sizes_bytes, seconds):
    """``t = 2 * alpha + n / bandwidth`` (the 2-rank ring) fitted by least
    squares on relative errors, so that small and large messages count alike
    -> (alpha, bandwidth)."""
    t = np.asarray(seconds, float)
    A = np.column_stack([np.full(len(t), 2.0), np.asarray(sizes_bytes, float)]) / t[:, None]
    (alpha, inv_bw), *_ = np.linalg.lstsq(A, np.ones(len(t)), rcond=None)
    return max(float(alpha), 0.0), 1.0 / float(inv_bw)


def ring_allreduce_s(nbytes, p, alpha, bandwidth):
    """Ring allreduce: p - 1 reduce-scatter and p - 1 all-gather steps, each
    moving bytes / p over every link."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bandwidth


def model_table(one, scaling):
    """Speed-ups per model, link and machine count; batch per rank for < 10% comm."""
    rows = []
    for name, step in one["steps"].items():
        t_comp, nbytes = step["compute_min_s"], step["bytes"]
        b, t = np.array(scaling[name], float).T
        slope, intercept = np.polyfit(b, t, 1)
        for gbit in LINKS_GBIT:
            bw = gbit * 1e9 / 8
            speedups = [p * t_comp / (t_comp + ring_allreduce_s(nbytes, p, NETWORK_LATENCY_S, bw))
                        for p in MACHINES]
            t_comm = ring_allreduce_s(nbytes, 64, NETWORK_LATENCY_S, bw)
            batch_10 = max(1, int(np.ceil((9 * t_comm - intercept) / slope)))
            rows.append((name, gbit, speedups, t_comm, batch_10))
    return rows


def report(one, two, args) -> str:
    lines = ["Per training step, 1 thread per rank, median (min) of the timed steps:", "",
             "| model | ranks | batch per rank | compute ms | allreduce ms | bytes per rank |",
             "|---|---|---|---|---|---|"]
    for name in one["steps"]:
        for r in (one, two):
            s = r["steps"][name]
            lines.append(f"| {name} | {r['size']} | {s['local_batch']} | "
                         f"{1e3 * s['compute_s']:.2f} ({1e3 * s['compute_min_s']:.2f}) | "
                         f"{1e3 * s['allreduce_s']:.3f} ({1e3 * s['allreduce_min_s']:.3f}) | "
                         f"{s['bytes']:,} |")
    sizes = sorted(int(n) for n in two["allreduce"])
    medians = [two["allreduce"][str(n)][0] for n in sizes]
    secs = [two["allreduce"][str(n)][1] for n in sizes]
    alpha, bw = fit_link(sizes, secs)
    lines += ["", f"Loopback Allreduce, 2 ranks: latency {1e6 * alpha:.1f} us, "
              f"bandwidth {bw / 1e9:.2f} GB/s (fit of t = 2 alpha + n / bandwidth to the "
              "minimum times)", "",
              "| bytes | median us | min us | GB/s (n / min) |", "|---|---|---|---|"]
    lines += [f"| {n:,} | {1e6 * m:.1f} | {1e6 * t:.1f} | {n / t / 1e9:.2f} |"
              for n, m, t in zip(sizes, medians, secs)]
    lines += ["", f"Ring-allreduce model, latency {1e6 * NETWORK_LATENCY_S:.0f} us per message, "
              "the minimum compute time per step measured here: speed-up over one machine", "",
              "| model | link | " + " | ".join(f"p={p}" for p in MACHINES)
              + " | allreduce ms (p=64) | batch per rank for < 10% comm |",
              "|---|---|" + "---|" * len(MACHINES) + "---|---|"]
    rows = model_table(one, one["scaling"])
    for name, gbit, speedups, t_comm, batch_10 in rows:
        lines.append(f"| {name} | {gbit} Gbit/s | " + " | ".join(f"{s:.1f}" for s in speedups)
                     + f" | {1e3 * t_comm:.2f} | {batch_10} |")
    if args.plot:
        _plot(rows, sizes, secs, args.plot)
        lines += ["", f"plot written to {args.plot}"]
    return "\n".join(lines)


def _plot(rows, sizes, secs, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2, 1)
    for (name, gbit, speedups, _, _), style in zip(rows, ["-o", "-s", "-^"] * 2):
        ax.plot(MACHINES, np.array(speedups) / np.array(MACHINES), style,
                label=f"{name}, {gbit} Gbit/s", color="C0" if name == "mlp" else "C1",
                alpha=0.4 + 0.3 * LINKS_GBIT.index(gbit))
    ax.set_xscale("log", base=2)
    ax.set_xticks(MACHINES, [str(p) for p in MACHINES])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("machines")
    ax.set_ylabel("speed-up / machines")
    ax.set_title("ring-allreduce model: parallel efficiency")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    ax.loglog(sizes, [n / t / 1e9 for n, t in zip(sizes, secs)], "-o")
    ax.set_xlabel("bytes")
    ax.set_ylabel("GB/s")
    ax.set_title("Allreduce, 2 ranks on one machine")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per measurement")
    parser.add_argument("--plot", default=None, help="write the figure (PNG) here")
    parser.add_argument("--json", default=None, help="also write the raw measurements here")
    parser.add_argument("--rank", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank:
        rank_main(args.out, args.steps)
        return
    with tempfile.TemporaryDirectory() as tmp:
        one = _launch(1, os.path.join(tmp, "one.json"), args.steps)
        two = _launch(2, os.path.join(tmp, "two.json"), args.steps)
    if args.json:
        Path(args.json).write_text(json.dumps({"one": one, "two": two}, indent=1))
    print(report(one, two, args))


if __name__ == "__main__":
    main()
