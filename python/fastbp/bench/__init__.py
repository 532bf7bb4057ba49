"""The benchmark harness: fastbp against its NumPy baselines, PyTorch and JAX.

- :mod:`fastbp.bench.workloads`: what is timed (one :class:`Workload` per row);
- :mod:`fastbp.bench.baselines`: the NumPy step of each workload;
- :mod:`fastbp.bench.jax_steps`: the JAX (jit, CPU) twins of sgemm and the steps;
- :mod:`fastbp.bench.harness`: the runner and the tables of ``fastbp bench``;
- :mod:`fastbp.bench.mixed`: one library's matmul right after the other's.

The ``bench/`` pytest-benchmark suites time the same workloads.
"""

from fastbp.bench.harness import (
    CONV_FLOPS_NOTE,
    SETTLE_S,
    Result,
    environment,
    format_peak_share,
    format_table,
    measure,
    plot,
    run,
)
from fastbp.bench.workloads import (
    IMPLS,
    Workload,
    cnn_step_workload,
    conv_workload,
    default_workloads,
    digits_cnn_workload,
    gemm_workload,
    mlp_step_workload,
    simple_convnet_workload,
    spiral_step_workload,
)

__all__ = [
    "CONV_FLOPS_NOTE",
    "IMPLS",
    "Result",
    "SETTLE_S",
    "Workload",
    "cnn_step_workload",
    "conv_workload",
    "default_workloads",
    "digits_cnn_workload",
    "environment",
    "format_peak_share",
    "format_table",
    "gemm_workload",
    "measure",
    "mlp_step_workload",
    "plot",
    "run",
    "simple_convnet_workload",
    "spiral_step_workload",
]
