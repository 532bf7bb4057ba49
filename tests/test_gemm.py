"""fastbp.gemm / fastbp.matmul against the NumPy reference (fastbp.reference).

Shapes: op(a) is (M, K), op(b) is (K, N), c is (M, N).
"""

from __future__ import annotations

import itertools
import os
import pathlib
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp import reference
from support import num_threads, run_python, ticks_during, tolerance

TRANSPOSES = list(itertools.product([False, True], repeat=2))

# (M, N, K): empty, tiny, primes, sizes that are not multiples of any micro-tile
# (4x8, 6x16, 12x32, ...) or cache block (MC, KC, NC), and some that cross them.
SHAPES = [
    (0, 5, 3),
    (5, 0, 3),
    (4, 5, 0),
    (1, 1, 1),
    (1, 17, 9),
    (17, 1, 9),
    (2, 3, 5),
    (7, 11, 13),
    (6, 16, 8),
    (12, 32, 16),
    (13, 33, 17),
    (31, 63, 65),
    (65, 31, 127),
    (127, 129, 257),
    (257, 5, 513),
    (3, 4097, 7),
    (1000, 30, 25),
    (30, 25, 3001),
    # the small-product loops: K <= 8 (any N) and N <= 4 (any K, vector lanes plus a tail)
    (1000, 100, 2),
    (300, 3, 100),
    (600, 4, 8),
    (300, 1, 17),
    (513, 2, 300),
    # float32 on AVX2, 4 < N <= 16 with K * N <= 4096: column groups of up to 12 (two
    # groups past 12), the K % 8 last products masked; (20, 15, 274) is just past the limit
    (128, 10, 256),
    (100, 13, 100),
    (37, 16, 255),
    (9, 12, 300),
    (20, 15, 273),
    (20, 15, 274),
    # M <= 4 with B not transposed: blocks of 32 or 16 columns, masked at the edge
    (2, 100, 300),
    (1, 37, 50),
    (3, 67, 9),
    (4, 33, 100),
    (4, 4, 100),
]
BIG_SHAPE = (513, 300, 1100)


def operands(rng, dtype, m, n, k, trans_a=False, trans_b=False):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def assert_gemm_close(out, a, b, c_before, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """Compare with the reference, tolerance scaled by |alpha| |op(a)| @ |op(b)| + |beta c|.

    That is the size of the terms each element sums, so the check holds for long
    inner dimensions and for results near zero alike.
    """
    expected = reference.gemm(
        a, b, None if c_before is None else c_before.copy(),
        trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta,
    )
    op_a = np.abs(a.T if trans_a else a).astype(np.float64)
    op_b = np.abs(b.T if trans_b else b).astype(np.float64)
    scale = abs(alpha) * (op_a @ op_b)
    if c_before is not None and beta != 0.0:
        scale = scale + abs(beta) * np.abs(c_before.astype(np.float64))
    tol = tolerance(out.dtype)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    err = np.abs(out.astype(np.float64) - expected.astype(np.float64))
    bound = tol["rtol"] * scale + tol["atol"]
    assert np.all(err <= bound), f"max excess {np.max(err - bound)}"


# --- parity with the reference --------------------------------------------


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m,n,k", SHAPES, ids=lambda v: str(v))
def test_matches_reference(rng, dtype, m, n, k, trans_a, trans_b):
    a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
    out = fastbp.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert out.flags.c_contiguous
    assert_gemm_close(out, a, b, None, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_big_shape_crosses_blocks(rng, dtype, trans_a, trans_b):
    m, n, k = BIG_SHAPE
    a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
    c = rng.standard_normal((m, n)).astype(dtype)
    c0 = c.copy()
    out = fastbp.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=0.75, beta=-0.5)
    assert out is c
    assert_gemm_close(out, a, b, c0, trans_a=trans_a, trans_b=trans_b, alpha=0.75, beta=-0.5)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 0.0), (1.0, 1.0), (-2.0, 0.5),
                                        (1.5, -1.0), (0.0, 2.0), (0.0, 0.0)])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 19, 23), (70, 45, 300)], ids=str)
def test_alpha_beta_in_place(rng, dtype, m, n, k, alpha, beta):
    a, b = operands(rng, dtype, m, n, k)
    c = rng.standard_normal((m, n)).astype(dtype)
    c0 = c.copy()
    out = fastbp.gemm(a, b, c, alpha=alpha, beta=beta)
    assert out is c
    assert_gemm_close(c, a, b, c0, alpha=alpha, beta=beta)


def test_beta_zero_never_reads_c(rng, dtype):
    for m, n, k in [(1, 1, 1), (5, 7, 3), (37, 41, 29), (64, 64, 64)]:
        a, b = operands(rng, dtype, m, n, k)
        c = np.full((m, n), np.nan, dtype=dtype)
        out = fastbp.gemm(a, b, c, alpha=2.0, beta=0.0)
        assert out is c
        assert np.all(np.isfinite(c))
        assert_gemm_close(c, a, b, None, alpha=2.0)


def test_k_zero_scales_c(dtype):
    a = np.zeros((3, 0), dtype)
    b = np.zeros((0, 4), dtype)
    c = np.full((3, 4), 2.0, dtype)
    assert fastbp.gemm(a, b, c, beta=0.5) is c
    np.testing.assert_array_equal(c, np.full((3, 4), 1.0, dtype))
    np.testing.assert_array_equal(fastbp.gemm(a, b), np.zeros((3, 4), dtype))


def test_nan_and_inf_propagate(dtype):
    a = np.array([[1.0, np.nan], [np.inf, 1.0]], dtype)
    b = np.array([[1.0, 2.0], [3.0, 4.0]], dtype)
    expected = np.array([[np.nan, np.nan], [np.inf, np.inf]], dtype)
    np.testing.assert_array_equal(fastbp.gemm(a, b), expected)


def test_matmul(rng, dtype):
    a, b = operands(rng, dtype, 45, 67, 89)
    out = fastbp.matmul(a, b)
    assert_gemm_close(out, a, b, None)


# --- the small-product loops at their vector edges -------------------------------

# Shapes around the 8-lane (AVX2) and 16-lane (AVX-512) vectors of the float32 loops: K <= 8
# with N just below, at and past one or two vectors; N <= 4 and the wide N (10 and 15-16
# classes) with K just around a vector (the masked K % lanes); M <= 4 with N around one, two
# and four vectors; trans_a row blocks of 16 and 32 rows (M = 15..33).
SMALL_EDGE_SHAPES = (
    [(5, n, k) for k in (1, 2, 3, 8) for n in (15, 16, 17, 33)]
    + [(33, n, k) for n in (1, 3, 4) for k in (15, 16, 17, 33)]
    + [(m, n, k) for m in (15, 17, 33) for n in (10, 15, 16) for k in (15, 16, 17)]
    + [(20, n, k) for n in (10, 15) for k in (255, 256, 257)]
    + [(m, n, k) for m in (1, 2, 3, 4) for n in (15, 16, 17, 33, 63, 64, 65) for k in (15, 17)]
)
# Each case of the store: C := sum, C := sum + beta C (beta = 1 and not), alpha alone, both.
STORE_CASES = [(1.0, 0.0), (1.0, 1.0), (1.0, -0.5), (0.5, 0.0), (-2.0, 0.5)]


@pytest.mark.parametrize("alpha,beta", STORE_CASES)
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_small_edges_match_reference(rng, dtype, trans_a, trans_b, alpha, beta):
    for m, n, k in SMALL_EDGE_SHAPES:
        a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
        c = rng.standard_normal((m, n)).astype(dtype)
        c0 = c.copy()
        if beta == 0.0:
            c[...] = np.nan  # never read
        fastbp.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        assert_gemm_close(c, a, b, c0, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)


@pytest.mark.parametrize("relu", [False, True])
def test_small_edges_bias_relu_match_reference(rng, dtype, relu):
    """linear_forward's bias (and ReLU) added as the small loops store, at the same edges."""
    forward = fastbp.ops.linear_relu_forward if relu else fastbp.ops.linear_forward
    twin = reference.linear_relu_forward if relu else reference.linear_forward
    tol = tolerance(dtype)
    for n, m, d in SMALL_EDGE_SHAPES:
        x = rng.standard_normal((n, d)).astype(dtype)
        w = rng.standard_normal((d, m)).astype(dtype)
        bias = rng.standard_normal(m).astype(dtype)
        y = forward(x, w, bias)
        scale = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)) + np.abs(bias)
        err = np.abs(y.astype(np.float64) - twin(x, w, bias).astype(np.float64))
        assert np.all(err <= tol["rtol"] * scale + tol["atol"]), (n, m, d)
        if relu:
            assert np.all(y >= 0)


@pytest.mark.parametrize(
    "m,n,k,trans_a,trans_b",
    [(30001, 17, 5, False, False), (30001, 33, 3, False, True), (30001, 3, 33, False, False),
     (30001, 3, 17, True, False), (12001, 10, 257, False, False), (12001, 15, 17, True, True),
     (3, 40001, 17, False, False), (1, 80001, 17, True, False)],
    ids=str,
)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (1.0, 1.0), (0.5, 1.5)])
def test_small_edges_bitwise_for_1_and_2_threads(rng, dtype, m, n, k, trans_a, trans_b, alpha,
                                                 beta):
    """Products the small loops share between 2 threads, every store case: rows (or 16-column
    blocks) land in full or partial vector blocks depending on the thread count."""
    a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
    c = rng.standard_normal((m, n)).astype(dtype)
    results = []
    for nt in (1, 2):
        with num_threads(nt):
            results.append(fastbp.gemm(a, b, c.copy(), trans_a=trans_a, trans_b=trans_b,
                                       alpha=alpha, beta=beta))
    np.testing.assert_array_equal(results[0], results[1])
    assert_gemm_close(results[1], a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                      beta=beta)


@pytest.mark.parametrize("n,d,m", [(30001, 5, 17), (30001, 33, 3), (12001, 257, 10)], ids=str)
def test_small_bias_relu_bitwise_for_1_and_2_threads(rng, dtype, n, d, m):
    x = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal((d, m)).astype(dtype)
    bias = rng.standard_normal(m).astype(dtype)
    for forward in (fastbp.ops.linear_forward, fastbp.ops.linear_relu_forward):
        results = []
        for nt in (1, 2):
            with num_threads(nt):
                results.append(forward(x, w, bias))
        np.testing.assert_array_equal(results[0], results[1])


# --- layouts: strided and transposed views, non-contiguous c -----------------


def non_contiguous_views(rng, dtype, shape):
    """Arrays of `shape` that are not C-contiguous: stepped, transposed, both."""
    r, c = shape
    stepped = rng.standard_normal((2 * r, 3 * c)).astype(dtype)[::2, ::3]
    transposed = np.ascontiguousarray(rng.standard_normal((c, r)).astype(dtype)).T
    both = rng.standard_normal((2 * c, 2 * r)).astype(dtype)[::2, ::2].T
    views = [stepped, transposed, both]
    assert all(v.shape == shape and not v.flags.c_contiguous for v in views)
    return views


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_strided_and_transposed_views(rng, dtype, trans_a, trans_b):
    m, n, k = 37, 29, 53
    a_views = non_contiguous_views(rng, dtype, (k, m) if trans_a else (m, k))
    b_views = non_contiguous_views(rng, dtype, (n, k) if trans_b else (k, n))
    for a, b in itertools.product(a_views, b_views):
        out = fastbp.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
        assert_gemm_close(out, a, b, None, trans_a=trans_a, trans_b=trans_b)


def test_non_contiguous_c(rng, dtype):
    m, n, k = 23, 17, 31
    a, b = operands(rng, dtype, m, n, k)
    base = rng.standard_normal((2 * m, 2 * n + 1)).astype(dtype)
    base0 = base.copy()
    c = base[::2, 1::2]
    assert not c.flags.c_contiguous
    out = fastbp.gemm(a, b, c, alpha=1.25, beta=-0.75)
    assert out is c
    assert_gemm_close(c, a, b, base0[::2, 1::2], alpha=1.25, beta=-0.75)
    untouched = np.ones(base.shape, bool)
    untouched[::2, 1::2] = False
    np.testing.assert_array_equal(base[untouched], base0[untouched])

    ct = np.full((n, m), np.nan, dtype).T  # F-contiguous c, beta = 0
    assert fastbp.gemm(a, b, ct) is ct
    assert_gemm_close(ct, a, b, None)


def test_c_overlapping_an_operand(rng, dtype):
    """c may be a itself (or b): the result is as if computed out of place."""
    a = rng.standard_normal((400, 400)).astype(dtype)  # K above one K block
    b = rng.standard_normal((400, 400)).astype(dtype)
    for alias_a in (True, False):
        x, y = a.copy(), b.copy()
        c = x if alias_a else y
        c0 = c.copy()
        out = fastbp.gemm(x, y, c, alpha=0.5, beta=2.0)
        assert out is c
        assert_gemm_close(out, a, b, c0, alpha=0.5, beta=2.0)


# --- every ISA path, in a fresh interpreter ------------------------------------

ISA_SCRIPT = textwrap.dedent(
    """
    import numpy as np, fastbp
    assert fastbp.build_info()["isa"] == {isa!r}, fastbp.build_info()
    rng = np.random.default_rng(7)
    for dtype, tol in ((np.float32, 2e-4), (np.float64, 1e-11)):
        for m, n, k in ((1, 1, 1), (13, 35, 9), (70, 90, 300), (300, 70, 50), (30, 25, 2000)):
            for ta in (False, True):
                for tb in (False, True):
                    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                    c = np.full((m, n), np.nan, dtype)
                    fastbp.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.5)
                    ref = 0.5 * ((a.T if ta else a).astype(np.float64)
                                 @ (b.T if tb else b).astype(np.float64))
                    scale = np.abs(a).max() * np.abs(b).max() * k
                    assert np.max(np.abs(c - ref)) <= tol * scale, (dtype, m, n, k, ta, tb)
                    c2 = rng.standard_normal((m, n)).astype(dtype)
                    want = ref + 2.0 * c2
                    fastbp.gemm(a, b, c2, trans_a=ta, trans_b=tb, alpha=0.5, beta=2.0)
                    assert np.max(np.abs(c2 - want)) <= tol * (scale + 10), (m, n, k)
    print("ok")
    """
)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512", "neon"])
def test_each_isa(isa):
    """Supported ISAs compute correctly; an ISA this CPU lacks fails cleanly at import."""
    env = {"FASTBP_ISA": isa}
    result = run_python(ISA_SCRIPT.format(isa=isa), env=env)
    info = fastbp.build_info()
    if isa in info["isas"] + info["emulated_isas"]:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"
    else:
        assert result.returncode == 1, result.stderr  # an exception, not a signal
        assert "ImportError" in result.stderr
        assert "FASTBP_ISA" in result.stderr


def test_unknown_isa_is_import_error():
    result = run_python("import fastbp", env={"FASTBP_ISA": "sse9"})
    assert result.returncode == 1, result.stderr
    assert "ImportError" in result.stderr
    assert "FASTBP_ISA=sse9" in result.stderr


def test_kernels_on_emulated_avx512_and_neon(tmp_path):
    """The AVX-512 and NEON kernels, built against SIMDe's portable implementations of
    the intrinsics (simde-py, a test requirement), on every edge tile: their logic is
    checked even on a CPU without AVX-512 or NEON."""
    import simde_py

    cpp = pathlib.Path(__file__).resolve().parent.parent / "cpp"
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None or not (cpp / "runtime" / "emulate").is_dir():
        pytest.skip("needs a C++ compiler and the source tree")
    exe = tmp_path / "check_kernels"
    sources = ["runtime/emulate/check_kernels.cpp", "gemm/kernels/avx512/gemm_avx512.cpp",
               "gemm/kernels/neon/gemm_neon.cpp", "gemm/kernels/generic/gemm_generic.cpp"]
    # Under tools/sanitize.sh the sanitizer runtimes are preloaded; the compiler
    # and this plain checker must run without them.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run(
        [compiler, "-std=c++17", "-O1", "-Wno-psabi", f"-I{cpp}",
         f"-I{cpp / 'runtime/emulate'}", f"-I{simde_py.get_include()}",
         *[str(cpp / s) for s in sources], "-o", str(exe)],
        check=True, capture_output=True, timeout=300, env=env,
    )
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True,
                            env=env)
    assert result.stdout.split() == ["avx512", "bad=0", "neon", "bad=0", "generic", "bad=0"], (
        result.stdout
    )


# --- threads ----------------------------------------------------------------


@pytest.mark.parametrize(
    "m,n,k,trans_a,trans_b",
    [(300, 280, 260, False, False), (1100, 40, 90, True, False), (6000, 30, 25, False, False),
     (30, 25, 20000, False, False), (128, 256, 784, False, True), (100, 100, 2000, False, False),
     (25, 4000, 60, False, False), (30, 25, 20000, True, True), (20, 1000, 300, True, True),
     (50000, 64, 2, False, True), (40000, 3, 20, False, False), (40000, 3, 20, True, False),
     (3, 40000, 30, True, False), (2, 50000, 20, False, False), (5000, 10, 256, False, False),
     (3000, 14, 250, True, False), (30001, 2, 300, True, False), (3001, 10, 256, True, False),
     (30, 25, 57600, False, False), (24, 20, 9000, True, False)],
    ids=str,
)
def test_bitwise_identical_for_1_and_2_threads(rng, dtype, m, n, k, trans_a, trans_b):
    # The shapes reach every way gemm shares tiles between threads: row blocks
    # dealt out (300, 280, 260), independent bands of rows (1100, 40, 90) or of
    # columns (30, 25, 20000 in float64), single tiles dealt out, parts of K dealt out
    # (C of a few tiles, K >= 8192: 30 x 25 with K = 20000 or 57600 in float32), and
    # the small-product loops' row bands (K = 2, N = 3, 10, 14) and column blocks (M = 2, 3);
    # 30001 and 3001 rows put a row in a full block for one thread count and in a partial
    # one for the other (both must do the same arithmetic).
    a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
    c = rng.standard_normal((m, n)).astype(dtype)
    results = []
    for nt in (1, 2, 1):
        with num_threads(nt):
            out = fastbp.gemm(a, b, c.copy(), trans_a=trans_a, trans_b=trans_b, alpha=0.5,
                              beta=1.5)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    assert_gemm_close(results[1], a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=0.5,
                      beta=1.5)


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_k_split_matches_reference_and_never_reads_c(rng, dtype, trans_a, trans_b):
    """A C of a few tiles with a long K (a convolution's weight gradient) is summed in
    parts of K: the same contract, C only written with beta == 0."""
    m, n, k = 30, 25, 57600
    a, b = operands(rng, dtype, m, n, k, trans_a, trans_b)
    c = np.full((m, n), np.nan, dtype)
    out = fastbp.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=0.0)
    assert np.isfinite(out).all()
    assert_gemm_close(out, a, b, None, trans_a=trans_a, trans_b=trans_b, alpha=0.5)
    c = rng.standard_normal((m, n)).astype(dtype)
    c0 = c.copy()
    fastbp.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=-1.0, beta=2.0)
    assert_gemm_close(c, a, b, c0, trans_a=trans_a, trans_b=trans_b, alpha=-1.0, beta=2.0)


def test_gil_released_during_gemm(rng):
    """Another Python thread keeps running while a large GEMM computes."""
    a, b = operands(rng, np.float64, 1200, 1200, 1200)
    fastbp.matmul(a[:64, :64], b[:64, :64])  # warm up
    assert ticks_during(lambda: fastbp.matmul(a, b)) > 0


# --- errors -----------------------------------------------------------------


def test_inner_dimension_mismatch():
    with pytest.raises(ValueError, match="inner dimensions"):
        fastbp.gemm(np.ones((3, 4)), np.ones((5, 6)))
    with pytest.raises(ValueError, match="inner dimensions"):
        fastbp.gemm(np.ones((3, 4)), np.ones((4, 6)), trans_a=True)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_wrong_ndim(shape):
    with pytest.raises(ValueError, match="a must be 2-D"):
        fastbp.gemm(np.ones(shape), np.ones((3, 3)))
    with pytest.raises(ValueError, match="b must be 2-D"):
        fastbp.gemm(np.ones((3, 3)), np.ones(shape))


@pytest.mark.parametrize("bad", [np.int32, np.int64, np.float16, np.complex64, np.complex128,
                                 np.bool_, object])
def test_bad_dtypes(bad):
    good = np.ones((3, 3))
    with pytest.raises(TypeError, match="a must be float32 or float64"):
        fastbp.gemm(np.ones((3, 3), dtype=bad), good)
    with pytest.raises(TypeError, match="b must be float32 or float64"):
        fastbp.gemm(good, np.ones((3, 3), dtype=bad))
    with pytest.raises(TypeError, match="c must be float32 or float64"):
        fastbp.gemm(good, good, np.ones((3, 3), dtype=bad))


def test_not_an_array():
    with pytest.raises(TypeError, match="a must be a numpy.ndarray"):
        fastbp.gemm([[1.0]], np.ones((1, 1)))
    with pytest.raises(TypeError, match="c must be a numpy.ndarray"):
        fastbp.gemm(np.ones((1, 1)), np.ones((1, 1)), [[0.0]])


def test_mixed_precision():
    with pytest.raises(TypeError, match="same dtype"):
        fastbp.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float64))
    with pytest.raises(TypeError, match="same dtype"):
        fastbp.gemm(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2), np.float32))


def test_bad_c():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=r"c must have shape \(2, 4\)"):
        fastbp.gemm(a, b, np.ones((4, 2)))
    with pytest.raises(ValueError, match="writable"):
        c = np.ones((2, 4))
        c.flags.writeable = False
        fastbp.gemm(a, b, c)
    with pytest.raises(ValueError, match="beta"):
        fastbp.gemm(a, b, beta=1.0)
