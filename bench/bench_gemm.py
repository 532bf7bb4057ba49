"""GEMM benchmarks, fastbp against NumPy (its BLAS), with GFLOP/s in extra_info.

Run: python -m pytest bench/bench_gemm.py --benchmark-group-by=param:case
(not collected by the normal test run: testpaths = tests). To compare with
NumPy's best OpenBLAS kernel, unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in
the benchmark command only. Shapes are M x K x N: a (M, K) @ b (K, N).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastbp

CASES = [
    ("f32-256", np.float32, (256, 256, 256)),
    ("f32-512", np.float32, (512, 512, 512)),
    ("f32-1024", np.float32, (1024, 1024, 1024)),
    ("f32-2048", np.float32, (2048, 2048, 2048)),
    ("f64-1024", np.float64, (1024, 1024, 1024)),
    ("f32-128x784x256", np.float32, (128, 784, 256)),
    ("f32-100x4320x100", np.float32, (100, 4320, 100)),
    ("f32-57600x25x30", np.float32, (57600, 25, 30)),
    ("f32-30x57600x25", np.float32, (30, 57600, 25)),
    ("f32-16384x288x64", np.float32, (16384, 288, 64)),
]

IMPLS = {
    "fastbp": lambda a, b, c: fastbp.gemm(a, b, c),
    "numpy": lambda a, b, c: np.matmul(a, b, out=c),
}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("case,dtype,mkn", CASES, ids=[c[0] for c in CASES])
def test_gemm(benchmark, gflops_table, case, dtype, mkn, impl):
    m, k, n = mkn
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)  # written in place: no allocation in the timed call
    fn = IMPLS[impl]
    fn(a, b, c)  # warm up (pack buffers, thread pools)
    benchmark.extra_info.update(
        case=case, impl=impl, isa=fastbp.build_info()["isa"], threads=fastbp.get_num_threads()
    )
    benchmark(fn, a, b, c)
    flops = 2.0 * m * n * k
    gflops = flops / benchmark.stats.stats.median / 1e9
    benchmark.extra_info["gflops"] = round(gflops, 2)
    gflops_table.setdefault(case, {})[impl] = gflops
    np.testing.assert_allclose(c, a @ b, rtol=1e-3, atol=1e-3 * np.sqrt(k))
