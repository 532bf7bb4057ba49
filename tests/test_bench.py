"""The benchmark harness behind `fastbp bench`: structure and arithmetic, not speed."""

import json

import numpy as np

from fastbp import bench, bench_mixed


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


def test_mixed_workload_rows():
    rows = bench_mixed.mixed_workload(n=32, repeats=1, settle_s=0.0)
    assert [r["timed"] for r in rows] == ["fastbp sgemm 32", "NumPy sgemm 32"]
    for r in rows:
        assert r["after_same_s"] > 0 and r["after_other_s"] > 0
        assert r["slowdown"] == r["after_other_s"] / r["after_same_s"]
    table = bench_mixed.format_mixed(rows)
    assert "| fastbp sgemm 32 |" in table and "slowdown" in table
    json.dumps(rows)  # part of --json
