"""Build info, thread settings and CPU dispatch."""

import os
import threading
import warnings

import numpy as np
import pytest

import fastbp
from support import run_python, ticks_during

# A build is expected to have OpenMP (a compiler that silently lacks it would otherwise
# give a one-thread build); the run that tests a build made with -DFASTBP_OPENMP=OFF sets
# FASTBP_EXPECT_OPENMP=0.
EXPECT_OPENMP = os.environ.get("FASTBP_EXPECT_OPENMP", "1") != "0"


def test_build_info_fields():
    info = fastbp.build_info()
    for key in ("version", "isa", "isas", "emulated_isas", "openmp", "num_threads", "compiler"):
        assert key in info
    assert info["version"] == fastbp.__version__
    assert info["isa"] in info["isas"] + info["emulated_isas"] and "generic" in info["isas"]
    # An ISA is native or emulated (a FASTBP_EMULATE_AVX512 test build), never both.
    assert not set(info["isas"]) & set(info["emulated_isas"])
    assert set(info["emulated_isas"]) <= {"avx512"}
    assert info["openmp"] is EXPECT_OPENMP
    assert (info["openmp_version"] > 0) is EXPECT_OPENMP
    assert info["num_threads"] == fastbp.get_num_threads() >= 1


def test_set_num_threads_round_trip_and_validation():
    before = fastbp.get_num_threads()
    try:
        fastbp.set_num_threads(1)
        assert fastbp.get_num_threads() == 1
        assert fastbp.build_info()["num_threads"] == 1
    finally:
        fastbp.set_num_threads(before)
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        fastbp.set_num_threads(0)


def test_thread_setting_is_process_wide():
    # Set from one Python thread, seen from another (not OpenMP's per-thread ICV).
    before = fastbp.get_num_threads()
    seen = []
    try:
        fastbp.set_num_threads(1)
        worker = threading.Thread(target=lambda: seen.append(fastbp.get_num_threads()))
        worker.start()
        worker.join()
    finally:
        fastbp.set_num_threads(before)
    assert seen == [1]


def test_default_threads_follow_omp_num_threads():
    out = run_python("import fastbp; print(fastbp.get_num_threads())", {"OMP_NUM_THREADS": "3"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("3" if EXPECT_OPENMP else "1")


def test_more_than_one_thread_is_used_or_explained():
    # With OpenMP the setting holds; without it the build runs on one thread and says so
    # with a RuntimeWarning instead of ignoring the request silently.
    before = fastbp.get_num_threads()
    try:
        if EXPECT_OPENMP:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                fastbp.set_num_threads(2)
            assert fastbp.get_num_threads() == 2
        else:
            with pytest.warns(RuntimeWarning, match=r"without OpenMP .* set_num_threads\(2\)"):
                fastbp.set_num_threads(2)
            assert fastbp.get_num_threads() == 1
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                fastbp.set_num_threads(1)  # one thread is what the build does: no warning
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fastbp.set_num_threads(before)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512", "neon"])
def test_forced_isa_is_used_or_refused(isa):
    code = (
        "import numpy as np, fastbp\n"
        "a = np.arange(12.0).reshape(3, 4)\n"
        "assert np.array_equal(fastbp.ops.relu_forward(a - 5), np.maximum(a - 5, 0))\n"
        "print(fastbp.build_info()['isa'])\n"
    )
    out = run_python(code, {"FASTBP_ISA": isa})
    info = fastbp.build_info()
    if isa in info["isas"] + info["emulated_isas"]:
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == isa
    else:
        assert out.returncode == 1
        assert f"FASTBP_ISA={isa} is not supported by this CPU" in out.stderr


def test_unknown_isa_is_an_import_error():
    out = run_python("import fastbp", {"FASTBP_ISA": "sse9"})
    assert out.returncode == 1
    assert "ImportError" in out.stderr and "FASTBP_ISA=sse9 is not one of" in out.stderr


def test_gil_is_released_during_compute():
    x = np.ones((1500, 1500), np.float32)
    w = np.ones((1500, 1500), np.float32)
    assert ticks_during(lambda: fastbp.ops.linear_forward(x, w, None)) > 0


def test_forked_child_computes_without_hanging():
    # The parent opens a parallel region first; the child must not wait on its pool.
    code = (
        "import multiprocessing as mp, numpy as np, fastbp\n"
        "x = np.linspace(-3, 3, 1 << 20)\n"
        "expected = fastbp.ops.sigmoid_forward(x)\n"
        "def child(q):\n"
        "    q.put((fastbp.get_num_threads(), bool(np.array_equal(fastbp.ops.sigmoid_forward(x), expected))))\n"
        "ctx = mp.get_context('fork')\n"
        "q = ctx.Queue()\n"
        "p = ctx.Process(target=child, args=(q,))\n"
        "p.start(); p.join(30)\n"
        "print(p.exitcode, q.get(timeout=5) if p.exitcode == 0 else None)\n"
        "if p.exitcode is None: p.kill()\n"
    )
    out = run_python(code, {"OMP_NUM_THREADS": "2"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0 (1, True)"
