"""The benchmark harness behind `fastbp bench`: structure and arithmetic, not speed."""

import json

import numpy as np
import pytest

import fastbp
from fastbp import _core, bench
from fastbp.bench import mixed as bench_mixed
from support import run_python


def test_ratio_and_gflops_arithmetic():
    r = bench.Result("w", 2e9, {"fastbp": 0.5, "numpy": 1.5})
    assert r.gflops("fastbp") == 4.0
    assert r.ratio("numpy") == 3.0
    assert r.ratio("torch") is None and r.gflops("torch") is None


def test_gemm_workload_computes_the_product():
    w = bench.gemm_workload(7, 5, 3)
    got = w.impls["fastbp"]().copy()
    want = w.impls["numpy"]()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert w.flops == 2 * 7 * 5 * 3


def test_measure_and_table(tmp_path):
    calls = {"fastbp": 0, "numpy": 0}

    def counter(name):
        def fn():
            calls[name] += 1

        return fn

    w = bench.Workload("tiny", None, {"fastbp": counter("fastbp"), "numpy": counter("numpy")})
    result = bench.measure(w, repeats=3, min_time_s=0.0, settle_s=0.0)
    assert set(result.median_s) == {"fastbp", "numpy"}
    assert calls["fastbp"] >= 2 + 3 * 2  # warm-up, sizing, three (warm call + sample)
    table = bench.format_table([result])
    assert "| tiny |" in table and "NumPy / fastbp" in table


def test_environment_names_the_kernels():
    env = bench.environment()
    assert env["fastbp"]["isa"] in env["fastbp"]["isas"]
    json.dumps(env)  # serialisable for --json


def test_environment_measures_the_multiply_add_peak():
    peak = bench.environment()["fma_peak_gflops"]
    assert peak["threads"] == fastbp.get_num_threads()
    assert np.isfinite(peak["float32"]) and peak["float32"] > 0


def test_fma_peak_rejects_bad_arguments():
    with pytest.raises(ValueError, match="threads"):
        _core.fma_peak_gflops(0)
    with pytest.raises(ValueError, match="seconds"):
        _core.fma_peak_gflops(1, seconds=0.0)
    with pytest.raises(ValueError, match="seconds"):
        _core.fma_peak_gflops(1, seconds=float("nan"))


def test_peak_share_by_hand():
    results = [
        bench.Result("sgemm 8", 1e9, {"fastbp": 0.01, "numpy": 0.02}),  # 100 and 50 GFLOP/s
        bench.Result("dgemm 8", 1e9, {"fastbp": 0.01}),  # against half the float32 peak
        bench.Result("sgemm 8 (1 thread)", 1e9, {"fastbp": 0.01}),  # another thread count
        bench.Result("spiral step", None, {"fastbp": 0.01}),  # no flop count
        bench.Result("conv 3x3 (1,1,8,8)->1 fwd+bwd", 1e9, {"fastbp": 0.01}),  # direct-equivalent
    ]
    table = bench.format_peak_share(results, peak_gflops=200.0)
    assert "| workload | fastbp | NumPy |" in table  # the implementations timed, no others
    assert "| sgemm 8 | 50% | 25% |" in table
    assert "| dgemm 8 | 100% | - |" in table
    assert "thread" not in table and "spiral" not in table and "conv" not in table


def test_mixed_workload_rows():
    rows = bench_mixed.mixed_workload(n=32, repeats=1, settle_s=0.0)
    assert [r["timed"] for r in rows] == ["fastbp sgemm 32", "NumPy sgemm 32"]
    for r in rows:
        assert r["after_same_s"] > 0 and r["after_other_s"] > 0
        assert r["slowdown"] == r["after_other_s"] / r["after_same_s"]
    table = bench_mixed.format_mixed(rows)
    assert "| fastbp sgemm 32 |" in table and "slowdown" in table
    json.dumps(rows)  # part of --json


def test_harness_does_not_import_the_examples():
    out = run_python("import sys, fastbp.bench as b\n"
                     "[build() for build in b.default_workloads(quick=True)]\n"
                     "b.digits_cnn_workload(2)\n"
                     "print(sorted(m for m in sys.modules if m.startswith('fastbp.examples')))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("build", [bench.simple_convnet_workload, bench.digits_cnn_workload])
def test_cnn_workloads_train_in_every_implementation(build):
    # A small batch: each implementation's step runs and returns, fastbp's and the NumPy
    # baseline's on the same network shape.
    w = build(4)
    assert {"fastbp", "numpy"} <= set(w.impls)
    for step in w.impls.values():
        step()
