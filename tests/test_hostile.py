"""Hostile and careless use of the public API: index arrays changed by another
thread while an op runs, thread counts out of range, non-finite and huge values
under Winograd, crafted checkpoints, misaligned, overlapping and absurdly shaped
arguments. Each must end in a documented exception or in the twin's result,
never a crash (tools/sanitize.sh runs this file under ASan and UBSan too).
Resident-memory bounds for crafted files are in tests/test_memory.py."""

import io
import json
import threading
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastbp
from fastbp import checkpoint, nn, ops, reference
from fastbp.cli import main as cli_main
from support import run_python, tolerance

BAD_INDEX = 1 << 40  # far outside any array here
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- 1. index arrays changed by another thread -----------------------------
def flipping(array, good, bad):
    """A context that makes a daemon thread overwrite `array` with `good` and `bad` in
    turn until the block ends (NumPy releases the GIL for large copies, so the writes
    land while an op checks or reads the array)."""

    class Flipper:
        def __enter__(self):
            self.stop = threading.Event()
            self.flips = 0

            def run():
                while not self.stop.is_set():
                    array[...] = bad
                    time.sleep(0)
                    array[...] = good
                    self.flips += 1

            self.thread = threading.Thread(target=run, daemon=True)
            self.thread.start()
            return self

        def __exit__(self, *exc):
            self.stop.set()
            self.thread.join()

    return Flipper()


def race(call, want, array, good, seconds=0.3):
    """Runs call() repeatedly for about `seconds` while another thread flips `array`
    between `good` and an out-of-range `bad`: every call raises ValueError (it saw some
    bad index) or returns exactly `want` (it saw only good ones). Returns the counts."""
    outcomes = {"ok": 0, "refused": 0}
    with flipping(array, good, np.full_like(good, BAD_INDEX)) as flipper:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or flipper.flips == 0:
            try:
                got = call()
            except ValueError as e:
                assert "outside" in str(e)
                outcomes["refused"] += 1
                continue
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
            outcomes["ok"] += 1
    assert sum(outcomes.values()) > 0
    return outcomes


def test_race_softmax_cross_entropy(rng):
    scores = rng.standard_normal((20_000, 10)).astype(np.float32)
    good = np.zeros(20_000, np.int64)
    labels = good.copy()
    want = ops.softmax_cross_entropy(scores, good)
    race(lambda: ops.softmax_cross_entropy(scores, labels), want, labels, good)


def test_race_multi_margin_loss(rng):
    scores = rng.standard_normal((20_000, 10)).astype(np.float32)
    good = np.ones(20_000, np.int64)
    labels = good.copy()
    want = ops.multi_margin_loss(scores, good)
    race(lambda: ops.multi_margin_loss(scores, labels), want, labels, good)


@pytest.mark.parametrize("fused", [False, True], ids=["max_pool", "relu_max_pool"])
def test_race_max_pool2d_backward(rng, fused):
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    forward = ops.relu_max_pool2d_forward if fused else ops.max_pool2d_forward
    y, good = forward(x, 2)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    argmax = good.copy()
    if fused:
        def call():
            return (ops.relu_max_pool2d_backward(dout, argmax, y, x.shape),)
        want = (ops.relu_max_pool2d_backward(dout, good, y, x.shape),)
    else:
        def call():
            return (ops.max_pool2d_backward(dout, argmax, x.shape),)
        want = (ops.max_pool2d_backward(dout, good, x.shape),)
    race(call, want, argmax, good)


def test_race_conv2d_relu_max_pool2d_backward(rng):
    x = rng.standard_normal((4, 4, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    y, good = ops.conv2d_relu_max_pool2d_forward(x, w, None, 1, 1, 2)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    argmax = good.copy()
    want = ops.conv2d_relu_max_pool2d_backward(dout, good, y, x, w, 1, 1)
    race(lambda: ops.conv2d_relu_max_pool2d_backward(dout, argmax, y, x, w, 1, 1), want,
         argmax, good)


def test_index_arguments_are_copied_not_aliased(rng):
    """The values checked are the values used: a labels array of another dtype, a
    non-contiguous one and a plain int64 one all give the twin's result."""
    scores = rng.standard_normal((6, 4))
    labels = np.array([0, 3, 1, 2, 2, 0])
    want = reference.softmax_cross_entropy(scores, labels)
    for variant in (labels.astype(np.int32), np.repeat(labels, 2)[::2], labels.astype(np.int64)):
        loss, d = ops.softmax_cross_entropy(scores, variant)
        np.testing.assert_allclose(loss, want[0], rtol=1e-12)
        np.testing.assert_allclose(d, want[1], rtol=1e-12, atol=1e-15)


# --- 2. thread counts ---------------------------------------------------------
@pytest.mark.parametrize("n", [0, -1, fastbp.MAX_NUM_THREADS + 1, 10**6, 10**30])
def test_set_num_threads_out_of_range(n):
    before = fastbp.get_num_threads()
    with pytest.raises(ValueError, match=r"num_threads must be >= 1 and <= 1024"):
        fastbp.set_num_threads(n)
    assert fastbp.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, "4", True, None])
def test_set_num_threads_wrong_type(n):
    with pytest.raises(TypeError, match="num_threads must be an int"):
        fastbp.set_num_threads(n)


def test_set_num_threads_at_the_limit_and_numpy_int():
    before = fastbp.get_num_threads()
    try:
        fastbp.set_num_threads(np.int64(fastbp.MAX_NUM_THREADS))
        assert fastbp.get_num_threads() == fastbp.MAX_NUM_THREADS
    finally:
        fastbp.set_num_threads(before)


def test_fma_peak_threads_limit():
    with pytest.raises(ValueError, match="threads must be >= 1 and <= 1024"):
        fastbp._core.fma_peak_gflops(fastbp.MAX_NUM_THREADS + 1, 0.01)


@pytest.mark.parametrize("env, want", [
    ("100000", "MAX"), ("99999999999999999999999", "MAX"), ("3", "3"), ("junk", "cores"),
])
def test_omp_num_threads_is_clamped_at_import(env, want):
    code = ("import os, fastbp; "
            "print(fastbp.get_num_threads(), fastbp.MAX_NUM_THREADS, "
            "min(len(os.sched_getaffinity(0)), fastbp.MAX_NUM_THREADS))")
    result = run_python(code, env={"OMP_NUM_THREADS": env})
    assert result.returncode == 0, result.stderr
    got, limit, cores = result.stdout.split()
    assert got == {"MAX": limit, "cores": cores}.get(want, want)


@pytest.mark.parametrize("argv", [["run", "parabola"], ["demo"]], ids=["run", "demo"])
def test_cli_threads_limit(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli_main(argv + ["--threads", str(fastbp.MAX_NUM_THREADS + 1)])
    assert e.value.code == 2
    assert "at most 1024 threads" in capsys.readouterr().err


# --- 3. Winograd and non-finite or huge values --------------------------------
SPECIALS = [np.inf, -np.inf, np.nan, 1e12, -1e30]


def assert_matches_twin(got, want):
    """Same NaN and Inf positions (and signs) as the twin; finite values close."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    scale = max(float(np.abs(want[finite]).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-5 * scale)


def one_special_per_sample(value, H=8, W=8, C=16):
    """x (H * W, C, H, W) of ones, sample n holding `value` at pixel n of channel n % C:
    every position of every Winograd tile once."""
    x = np.ones((H * W, C, H, W), np.float32)
    for n in range(H * W):
        x[n, n % C, n // W, n % W] = value
    return x


@pytest.mark.parametrize("value", SPECIALS, ids=str)
def test_winograd_forward_with_special_input_matches_twin(value):
    x = one_special_per_sample(value)
    w = np.ones((16, 16, 3, 3), np.float32)
    got = ops.conv2d_forward(x, w, None, 1, 1)
    with np.errstate(invalid="ignore"):
        want = reference.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    assert_matches_twin(got, want)


@pytest.mark.parametrize("value", SPECIALS, ids=str)
def test_winograd_forward_with_special_weight_matches_twin(rng, value):
    x = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    for k in range(9):  # every tap of one filter
        w[k, k % 16, k // 3, k % 3] = value
    got = ops.conv2d_forward(x, w, None, 1, 1)
    with np.errstate(invalid="ignore"):
        want = reference.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    assert_matches_twin(got, want)


def test_issue_reproducer_exact_values():
    x = np.ones((1, 16, 8, 8), np.float32)
    x[0, 0, 1, 1] = np.inf
    y = ops.conv2d_forward(x, np.ones((16, 16, 3, 3), np.float32), None, 1, 1)
    assert y[0, 0, 3, 3] == 144.0
    assert np.isinf(y).sum() == 16 * 9
    x[0, 0, 1, 1] = 1e12
    y = ops.conv2d_forward(x, np.ones((16, 16, 3, 3), np.float32), None, 1, 1)
    assert y[0, 0, 3, 3] == 144.0


@pytest.mark.parametrize("value", SPECIALS, ids=str)
@pytest.mark.parametrize("where", ["x", "dout"])
def test_winograd_backward_with_special_values_matches_twin(rng, value, where):
    H = W = 8
    x = rng.standard_normal((H * W, 16, H, W)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    dout = rng.standard_normal((H * W, 16, H, W)).astype(np.float32)
    target = x if where == "x" else dout
    for n in range(H * W):
        target[n, n % 16, n // W, n % W] = value
    got = ops.conv2d_backward(dout, x, w, 1, 1)
    with np.errstate(invalid="ignore"):
        want = reference.conv2d_backward(dout.astype(np.float64), x.astype(np.float64),
                                         w.astype(np.float64), 1, 1)
    for g, t in zip(got, want):
        assert_matches_twin(g, t)


@FUZZ
@given(value=st.sampled_from(SPECIALS + [3e9, -4.3e9, 6e4]), c=st.integers(0, 15),
       h=st.integers(0, 9), w=st.integers(0, 9), target=st.sampled_from(["x", "w"]))
def test_winograd_forward_fuzz_one_special_anywhere(value, c, h, w, target):
    """One special value at a drawn place of x (10x10, tiles overhanging the edge) or w."""
    x = np.random.default_rng(c).standard_normal((1, 16, 10, 10)).astype(np.float32)
    wt = np.random.default_rng(h).standard_normal((16, 16, 3, 3)).astype(np.float32)
    if target == "x":
        x[0, c, h, w] = value
    else:
        wt[c, (h + w) % 16, h % 3, w % 3] = value
    got = ops.conv2d_forward(x, wt, None, 1, 1)
    with np.errstate(invalid="ignore"):
        want = reference.conv2d_forward(x.astype(np.float64), wt.astype(np.float64), None, 1, 1)
    assert_matches_twin(got, want)


@pytest.mark.parametrize("value", [np.inf, np.nan, 1e12])
def test_winograd_fused_backward_with_special_dout(rng, value):
    x = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    y, argmax = ops.conv2d_relu_max_pool2d_forward(x, w, None, 1, 1, 2)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dout[0, 3, 1, 2] = value
    got = ops.conv2d_relu_max_pool2d_backward(dout, argmax, y, x, w, 1, 1)
    with np.errstate(invalid="ignore"):
        want = reference.conv2d_relu_max_pool2d_backward(
            dout.astype(np.float64), argmax, y.astype(np.float64), x.astype(np.float64),
            w.astype(np.float64), 1, 1)
    for g, t in zip(got, want):
        assert_matches_twin(g, t)


# --- 4. crafted checkpoints ---------------------------------------------------
@pytest.fixture
def good(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    path = tmp_path / "good.npz"
    fastbp.save(path, model, epoch=1)
    return path


def rewrite(path, out, edit, compression=zipfile.ZIP_STORED):
    """Copies the checkpoint's members through edit(list of (name, bytes)) into out."""
    with zipfile.ZipFile(path) as zf:
        items = [(name, zf.read(name)) for name in zf.namelist()]
    items = edit(items)
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return out


def npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr))
    return buf.getvalue()


def test_duplicate_member_name_is_refused(good, tmp_path):
    def add_second_copy(items):
        original = dict(items)["model.0.npy"]
        forged = npy(np.full_like(np.load(io.BytesIO(original)), 42.0))
        return items + [("model.0.npy", forged)]

    with pytest.warns(UserWarning, match="Duplicate name"):
        bad = rewrite(good, tmp_path / "dup.npz", add_second_copy)
    with pytest.raises(ValueError, match="'model.0' appears twice"):
        fastbp.load(bad)


def with_header(items, header_bytes):
    return [(n, npy(np.frombuffer(header_bytes, np.uint8)) if n == "header.npy" else d)
            for n, d in items]


@pytest.mark.parametrize("depth", [checkpoint.MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_header_is_refused(good, tmp_path, depth):
    deep = b"[" * depth + b"]" * depth
    bad = rewrite(good, tmp_path / "deep.npz", lambda items: with_header(items, deep))
    with pytest.raises(ValueError, match="nests deeper than 64"):
        fastbp.load(bad)


def test_header_at_the_depth_limit_and_brackets_in_strings_load(good, tmp_path):
    with zipfile.ZipFile(good) as zf:
        header = json.loads(np.load(io.BytesIO(zf.read("header.npy"))).tobytes())
    value = "[[[[{{{{" * 100  # brackets inside a string do not nest
    nested = value
    for _ in range(checkpoint.MAX_JSON_DEPTH - 2):
        nested = [nested]
    header["meta"] = {"deep": nested}
    ok = rewrite(good, tmp_path / "ok.npz",
                 lambda items: with_header(items, json.dumps(header).encode()))
    got = fastbp.load(ok)["meta"]["deep"]
    for _ in range(checkpoint.MAX_JSON_DEPTH - 2):
        got = got[0]
    assert got == value


def test_save_refuses_deep_meta(tmp_path):
    model = nn.Linear(2, 2, rng=0)
    for depth in (checkpoint.MAX_JSON_DEPTH, 100_000):
        meta = []
        for _ in range(depth):
            meta = [meta]
        with pytest.raises(TypeError, match="meta nests deeper than 62"):
            fastbp.save(tmp_path / "m.npz", model, meta=meta)
    assert not (tmp_path / "m.npz").exists()
    fastbp.save(tmp_path / "m.npz", model, meta=json.loads("[" * 61 + "]" * 61))


def test_compressed_member_beyond_the_budget_is_refused_before_inflating(good, tmp_path):
    """A deflated member that inflates to 24 MiB against a 16 MiB budget: refused from the
    zip directory's sizes, before a byte of it is inflated."""
    big = npy(np.zeros(6 << 20, np.float32))
    bad = rewrite(good, tmp_path / "bomb.npz",
                  lambda items: items + [("optimizer.0.npy", big)], zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match="more than the budget of 16777216"):
        fastbp.load(bad, max_bytes=16 << 20)
    # the default budget (1 GiB) lets it through to the header's check of the members
    with pytest.raises(ValueError, match="unexpected members"):
        fastbp.load(bad)


def test_declared_size_in_zip_directory_beyond_budget(good, tmp_path):
    """The central directory claims 2**31 bytes for one member (2**29 float32): refused
    before a byte of it is read."""
    data = bytearray(good.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the last entry of the central directory
    data[central + 24:central + 28] = (1 << 31).to_bytes(4, "little")  # uncompressed size
    bad = tmp_path / "claims.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="more than the budget"):
        fastbp.load(bad)


def test_round_trip_of_a_compressed_checkpoint(good, tmp_path):
    packed = rewrite(good, tmp_path / "packed.npz", lambda items: items, zipfile.ZIP_DEFLATED)
    a, b = fastbp.load(good), fastbp.load(packed)
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k])
    assert a["meta"] == b["meta"] == {"epoch": 1}


# --- 6. misaligned, offset and absurdly shaped arguments ----------------------
def misaligned(arr):
    """A copy of arr whose data starts one byte past an aligned address."""
    arr = np.asarray(arr)
    raw = np.empty(arr.nbytes + 1, np.uint8)
    out = raw[1:].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("shape", [(3, 4, 5), (70, 300, 90)], ids=["small", "blocked"])
def test_gemm_writes_a_misaligned_c_in_place(rng, dtype, shape):
    M, K, N = shape
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c0 = rng.standard_normal((M, N)).astype(dtype)
    c = misaligned(c0)
    out = ops.gemm(misaligned(a), misaligned(b), c, alpha=0.5, beta=2.0)
    assert out is c
    want = reference.gemm(a, b, c0.copy(), alpha=0.5, beta=2.0)
    np.testing.assert_allclose(c, want, **tolerance(dtype))


def test_misaligned_inputs_are_copied(rng, dtype):
    x = rng.standard_normal((5, 7)).astype(dtype)
    np.testing.assert_array_equal(ops.relu_forward(misaligned(x)), ops.relu_forward(x))
    x4 = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    w4 = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    np.testing.assert_array_equal(ops.conv2d_forward(misaligned(x4), misaligned(w4), None, 1, 1),
                                  ops.conv2d_forward(x4, w4, None, 1, 1))


def inplace_calls(dtype):
    """(name, call(arrays), arrays): every op that writes into arrays it is given, with
    arguments of shape (4, 3) or (3,) it accepts; arrays maps argument names to arrays."""
    z = lambda *s: np.zeros(s, dtype)
    rng = np.random.default_rng(0)
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    return [
        ("sgd_update", lambda a: ops.sgd_update(a["param"], a["grad"], a["buf"], lr=0.1,
                                                momentum=0.9),
         {"param": r(4, 3), "grad": r(4, 3), "buf": z(4, 3)}),
        ("sgd_update_many",
         lambda a: ops.sgd_update_many([a["param"]], [a["grad"]], [a["buf"]], lr=0.1,
                                       momentum=0.9),
         {"param": r(4, 3), "grad": r(4, 3), "buf": z(4, 3)}),
        ("adagrad_update", lambda a: ops.adagrad_update(a["param"], a["grad"], a["sum"], step=1),
         {"param": r(4, 3), "grad": r(4, 3), "sum": z(4, 3)}),
        ("adagrad_update_many",
         lambda a: ops.adagrad_update_many([a["param"]], [a["grad"]], [a["sum"]], step=1),
         {"param": r(4, 3), "grad": r(4, 3), "sum": z(4, 3)}),
        ("rmsprop_update",
         lambda a: ops.rmsprop_update(a["param"], a["grad"], a["square_avg"], a["grad_avg"],
                                      a["buf"], momentum=0.9, centered=True),
         {"param": r(4, 3), "grad": r(4, 3), "square_avg": z(4, 3), "grad_avg": z(4, 3),
          "buf": z(4, 3)}),
        ("rmsprop_update_many",
         lambda a: ops.rmsprop_update_many([a["param"]], [a["grad"]], [a["square_avg"]],
                                           [a["grad_avg"]], [a["buf"]], momentum=0.9,
                                           centered=True),
         {"param": r(4, 3), "grad": r(4, 3), "square_avg": z(4, 3), "grad_avg": z(4, 3),
          "buf": z(4, 3)}),
        ("adam_update",
         lambda a: ops.adam_update(a["param"], a["grad"], a["m"], a["v"], a["vmax"], step=1,
                                   amsgrad=True),
         {"param": r(4, 3), "grad": r(4, 3), "m": z(4, 3), "v": z(4, 3), "vmax": z(4, 3)}),
        ("adam_update_many",
         lambda a: ops.adam_update_many([a["param"]], [a["grad"]], [a["m"]], [a["v"]],
                                        [a["vmax"]], step=1, amsgrad=True),
         {"param": r(4, 3), "grad": r(4, 3), "m": z(4, 3), "v": z(4, 3), "vmax": z(4, 3)}),
        ("l2_penalty_accumulate", lambda a: ops.l2_penalty_accumulate(a["grad"], a["w"], 0.1),
         {"grad": r(4, 3), "w": r(4, 3)}),
        ("linear_backward_accumulate",
         lambda a: ops.linear_backward_accumulate(a["dout"], a["x"], a["w"], a["w_grad"],
                                                  a["b_grad"]),
         {"dout": r(4, 3), "x": r(4, 4), "w": r(4, 3), "w_grad": z(4, 3), "b_grad": z(3)}),
        ("linear_relu_backward_accumulate",
         lambda a: ops.linear_relu_backward_accumulate(a["dout"], a["x"], a["w"], a["y"],
                                                       a["w_grad"], a["b_grad"]),
         {"dout": r(4, 3), "x": r(4, 4), "w": r(4, 3), "y": r(4, 3), "w_grad": z(4, 3),
          "b_grad": z(3)}),
        ("batchnorm_forward",
         lambda a: ops.batchnorm_forward(a["x"], a["gamma"], a["beta"], a["running_mean"],
                                         a["running_var"], training=True),
         {"x": r(4, 3), "gamma": r(3), "beta": r(3), "running_mean": z(3),
          "running_var": z(3) + 1}),
        ("batchnorm_backward",
         lambda a: ops.batchnorm_backward(a["dout"], a["x"], a["mean"], a["invstd"], a["gamma"],
                                          a["gamma_grad"], a["beta_grad"]),
         {"dout": r(4, 3), "x": r(4, 3), "mean": r(3), "invstd": z(3) + 1, "gamma": r(3),
          "gamma_grad": z(3), "beta_grad": z(3)}),
    ]


WRITTEN = {"param", "buf", "sum", "square_avg", "grad_avg", "m", "v", "vmax", "w_grad",
           "b_grad", "running_mean", "running_var", "gamma_grad", "beta_grad"}
WRITTEN_BY = {"l2_penalty_accumulate": {"grad"}}


def cases():
    for name, call, arrays in inplace_calls(np.float64):
        written = WRITTEN_BY.get(name, WRITTEN) & set(arrays)
        yield name, call, arrays, sorted(written)


@pytest.mark.parametrize("name, call, arrays, written", list(cases()),
                         ids=[c[0] for c in cases()])
def test_misaligned_written_arrays_are_refused(name, call, arrays, written):
    for key in written:
        bad = dict(arrays, **{key: misaligned(arrays[key])})
        before = {k: v.copy() for k, v in bad.items()}
        with pytest.raises(ValueError, match="aligned"):
            call(bad)
        for k, v in bad.items():
            np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("name, call, arrays, written", list(cases()),
                         ids=[c[0] for c in cases()])
def test_overlapping_arrays_are_refused(name, call, arrays, written):
    """Every written array against every other argument: one element apart in one buffer
    (the issue's case), and the very same array; nothing is changed."""
    for key in written:
        for other in arrays:
            if other == key or arrays[other].size < arrays[key].size:
                continue
            for shift in (1, 0):
                n = arrays[other].size
                buf = np.zeros(n + shift + arrays[key].size, arrays[key].dtype)
                shared_other = buf[:n].reshape(arrays[other].shape)
                shared_key = buf[shift:shift + arrays[key].size].reshape(arrays[key].shape)
                shared_other[...] = arrays[other]
                bad = dict(arrays, **{other: shared_other, key: shared_key})
                snapshot = buf.copy()
                with pytest.raises(ValueError, match="overlap in memory"):
                    call(bad)
                np.testing.assert_array_equal(buf, snapshot)


@FUZZ
@given(n=st.integers(1, 12), p_at=st.integers(0, 30), g_at=st.integers(0, 30),
       b_at=st.integers(0, 30))
def test_overlap_fuzz_sgd_with_momentum(n, p_at, g_at, b_at):
    """param, grad and buf at drawn offsets of one buffer: ValueError exactly when param or
    buf overlaps another of the three, else the twin's result."""
    buf = np.arange(48, dtype=np.float64) / 7
    param, grad, mom = (buf[at:at + n] for at in (p_at, g_at, b_at))
    spans = {"param": (p_at, True), "grad": (g_at, False), "buf": (b_at, True)}
    clash = any(
        (wa or wb) and a < b + n and b < a + n
        for i, (a, wa) in enumerate(spans.values())
        for j, (b, wb) in enumerate(spans.values()) if i < j
    )
    want_p, want_b = param.copy(), mom.copy()
    reference.sgd_update(want_p, grad.copy(), want_b, lr=0.5, momentum=0.9)
    before = buf.copy()
    if clash:
        with pytest.raises(ValueError, match="overlap in memory"):
            ops.sgd_update(param, grad, mom, lr=0.5, momentum=0.9)
        np.testing.assert_array_equal(buf, before)
    else:
        ops.sgd_update(param, grad, mom, lr=0.5, momentum=0.9)
        np.testing.assert_array_equal(param, want_p)
        np.testing.assert_array_equal(mom, want_b)


def test_overlap_across_entries_of_many_updates(dtype):
    buf = np.zeros(13, dtype)
    p0, g1 = buf[:12].reshape(4, 3), buf[1:13].reshape(4, 3)
    with pytest.raises(ValueError, match=r"params\[0\] and grads\[1\] overlap|"
                                         r"grads\[1\] and params\[0\] overlap"):
        ops.sgd_update_many([p0, np.zeros((4, 3), dtype)], [np.zeros((4, 3), dtype), g1],
                            None, lr=0.1)


def test_read_only_arguments_may_share_memory(dtype):
    """Two gradients that are the same (read-only) array: allowed, the twin's result."""
    g = np.arange(12, dtype=dtype).reshape(4, 3)
    p = [np.ones((4, 3), dtype), np.full((4, 3), 2, dtype)]
    want = [x.copy() for x in p]
    for x in want:
        reference.sgd_update(x, g, None, lr=0.5)
    ops.sgd_update_many(p, [g, g], None, lr=0.5)
    for got, w in zip(p, want):
        np.testing.assert_array_equal(got, w)


def test_gemm_c_overlapping_a_is_handled(rng):
    buf = rng.standard_normal(40)
    a = buf[:16].reshape(4, 4)
    c = buf[1:17].reshape(4, 4)
    want = reference.gemm(a.copy(), np.eye(4), None, alpha=2.0)
    assert ops.gemm(a, np.eye(4), c, alpha=2.0) is c
    np.testing.assert_allclose(c, want)


@pytest.mark.parametrize("x_shape", [(0, 2, 2**62 - 1, 1), (0, 2, 2**40, 2**40),
                                     (0, 2**62, 2**62, 0)])
def test_absurd_empty_x_shape_is_refused(x_shape):
    dout = np.zeros((0, x_shape[1] if x_shape[1] < 16 else 0, 1, 1), np.float32)
    argmax = np.zeros(dout.shape, np.int64)
    with pytest.raises(ValueError, match="overflow|must have the"):
        ops.max_pool2d_backward(dout, argmax, x_shape)
    with pytest.raises(ValueError, match="overflow|must have the"):
        ops.relu_max_pool2d_backward(dout, argmax, dout, x_shape)
    with pytest.raises(ValueError, match="overflow|too large"):
        ops.avg_pool2d_backward(dout, x_shape, 1)
    with pytest.raises(ValueError, match="overflow|too large"):
        ops.col2im(np.zeros((0, 0), np.float32), x_shape, 1)


def test_max_pool2d_backward_issue_reproducers_raise_value_error():
    dout = np.zeros((0, 2, 1, 1), np.float32)
    argmax = np.zeros((0, 2, 1, 1), np.int64)
    for x_shape in [(0, 2, 2**62 - 1, 1), (0, 2, 2**40, 2**40)]:
        with pytest.raises(ValueError, match="overflows a 64-bit byte count"):
            ops.max_pool2d_backward(dout, argmax, x_shape)


# --- 7. gemm with alpha == 0 ----------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 4, 5), (70, 300, 90)], ids=["small", "blocked"])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_alpha_zero_propagates_nan_like_the_twin(rng, dtype, shape, beta):
    M, K, N = shape
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    a[1, 2] = np.nan
    b[3, 4] = np.inf
    c0 = rng.standard_normal((M, N)).astype(dtype)
    got = ops.gemm(a, b, c0.copy(), alpha=0.0, beta=beta)
    with np.errstate(invalid="ignore"):
        want = reference.gemm(a, b, c0.copy(), alpha=0.0, beta=beta)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).any()
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-6)
