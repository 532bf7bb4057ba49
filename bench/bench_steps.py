"""One full-batch training step of the CS231n spiral 2-100-3 ReLU net:
forward, softmax cross-entropy, L2 penalty, backward, SGD update.

The workload is :func:`fastbp.bench.workloads.spiral_step_workload` (a row of
``fastbp bench``): fastbp (its layers, loss, l2_penalty and SGD) against the same
step in plain NumPy (the CS231n code, :mod:`fastbp.bench.baselines`) and in
PyTorch (when importable), all float32. Not collected by the test run:

    pytest bench/bench_steps.py --benchmark-only          # pytest-benchmark table
    python bench/bench_steps.py [--threads N] [--repeat R] # quick medians and ratios

Quote medians and ratios from one run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse

import fastbp
from fastbp.bench.harness import format_table, measure
from fastbp.bench.workloads import spiral_step_workload

# --- pytest-benchmark --------------------------------------------------------------
try:
    import pytest
except ImportError:  # the script mode below needs only fastbp
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="module")
    def spiral_step():
        return spiral_step_workload()

    @pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
    def test_spiral_mlp_step(benchmark, spiral_step, impl):
        if impl not in spiral_step.impls:
            pytest.skip(f"{impl} is not installed")
        benchmark.group = "spiral 2-100-3 full-batch step (float32, N=300)"
        benchmark.extra_info["threads"] = fastbp.get_num_threads()
        benchmark.extra_info["isa"] = fastbp.build_info()["isa"]
        benchmark(spiral_step.impls[impl])


# --- script mode -------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    if args.threads:
        fastbp.set_num_threads(args.threads)
    print(f"threads={fastbp.get_num_threads()}, isa={fastbp.build_info()['isa']}")
    print(format_table([measure(spiral_step_workload(), args.repeat)]))


if __name__ == "__main__":
    main()
