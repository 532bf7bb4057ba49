"""The program tests/test_distributed.py starts under ``mpiexec -n 2``.

``python distributed_worker.py SCENARIO OUT_DIR``; every rank writes what it
ends with to ``OUT_DIR/<scenario>.rank<r>.npz`` (or ``.txt``), which the test
compares with one process training on the same global batches. The models,
data and hyperparameters come from :mod:`distributed_cases`, shared with the test.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distributed_cases as cases  # noqa: E402

import fastbp  # noqa: E402
from fastbp import distributed  # noqa: E402


def _save_state(path: str, model, history=None, **extra) -> None:
    arrays = {f"state.{k}": v for k, v in model.state_dict().items()}
    if history is not None:
        arrays.update({f"history.{k}": np.asarray(v, np.float64)
                       for k, v in history.as_dict().items() if k not in ("time",)})
    arrays.update(extra)
    np.savez(path, **arrays)


def train(out: str, rank: int, name: str) -> None:
    """A case of distributed_cases trained with fit on a DistributedOptimizer."""
    model, opt, X, y, kwargs = cases.CASES[name](rank)
    distributed.broadcast_parameters(model)
    dopt = distributed.DistributedOptimizer(opt)
    history = fastbp.fit(model, cases.loss(), dopt, X, y, progress=False, **kwargs)
    _save_state(os.path.join(out, f"{name}.rank{rank}.npz"), model, history,
                bytes_per_step=np.int64(dopt.bytes_per_step))
    # Every rank saves; only rank 0 may write (to its own name, so a write from
    # rank 1 would show).
    fastbp.save(os.path.join(out, f"{name}.ckpt.rank{rank}.npz"), model, dopt)


def mismatch(out: str, rank: int) -> None:
    """Rank r holds Linear(2, 3 + r): broadcast_parameters must refuse on every rank."""
    model = fastbp.nn.Sequential(fastbp.nn.Linear(2, 3 + rank), fastbp.nn.ReLU())
    try:
        distributed.broadcast_parameters(model)
        message = "no error"
    except ValueError as e:
        message = f"ValueError: {e}"
    with open(os.path.join(out, f"mismatch.rank{rank}.txt"), "w") as f:
        f.write(message)


def progress(out: str, rank: int) -> None:
    """fit with a progress bar on every rank: only rank 0 may draw one. Under
    mpiexec stderr is a pipe, where fit draws no bar at all, so every rank's
    stderr is made to claim a terminal."""
    sys.stderr.isatty = lambda: True
    model, opt, X, y, kwargs = cases.CASES["spiral"](rank)
    distributed.broadcast_parameters(model)
    fastbp.fit(model, cases.loss(), distributed.DistributedOptimizer(opt), X, y,
               progress=True, **kwargs)


def sharded_data(out: str, rank: int) -> None:
    """fit given this rank's shard instead of the whole set: a ValueError on every rank."""
    model, opt, X, y, kwargs = cases.CASES["spiral"](rank)
    try:
        fastbp.fit(model, cases.loss(), distributed.DistributedOptimizer(opt),
                   *distributed.shard(X[:-1], y[:-1]), progress=False, **kwargs)
        message = "no error"
    except ValueError as e:
        message = f"ValueError: {e}"
    with open(os.path.join(out, f"sharded_data.rank{rank}.txt"), "w") as f:
        f.write(message)


def crash(out: str, rank: int) -> None:
    """Rank 1 raises while rank 0 waits in the gradient Allreduce."""
    model = fastbp.nn.Linear(2, 3)
    opt = distributed.DistributedOptimizer(fastbp.optim.SGD(model.parameters(), lr=0.1))
    if rank == 1:
        raise RuntimeError("rank 1 fails on purpose")
    opt.step()  # would wait forever for rank 1 without the abort
    with open(os.path.join(out, "crash.finished"), "w") as f:
        f.write("rank 0 got past the Allreduce")


def threads(out: str, rank: int) -> None:
    world = distributed.init()
    np.savez(os.path.join(out, f"threads.rank{rank}.npz"), threads=world.threads,
             build_info=fastbp.build_info()["num_threads"], local_size=world.local_size,
             size=world.size, threads_from=world.threads_from)


def main() -> None:
    scenario, out = sys.argv[1], sys.argv[2]
    world = distributed.init()
    if scenario in cases.CASES:
        train(out, world.rank, scenario)
    else:
        scenarios = {"mismatch": mismatch, "crash": crash, "threads": threads,
                     "sharded_data": sharded_data, "progress": progress}
        scenarios[scenario](out, world.rank)


if __name__ == "__main__":
    main()
