"""Checkpoints: round trips, bitwise resumption, atomic saves under SIGKILL,
and clear errors (with nothing changed) for bad or mismatched files."""

import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import checkpoint, losses, nn, optim


def spiral(n_per_class=60, classes=3, seed=0):
    """The CS231n spiral: `classes` arms of `n_per_class` 2-D points."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n_per_class * classes, 2))
    y = np.zeros(n_per_class * classes, dtype=np.int64)
    for c in range(classes):
        ix = range(n_per_class * c, n_per_class * (c + 1))
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = c
    return X.astype(np.float32), y


def mlp(seed, hidden=32, dtype=np.float32):
    return nn.Sequential(
        nn.Linear(2, hidden, rng=seed, dtype=dtype), nn.ReLU(),
        nn.Linear(hidden, 3, rng=seed + 1, dtype=dtype),
    )


def train(model, opt, X, y, steps):
    loss = losses.SoftmaxCrossEntropy()
    values = []
    for _ in range(steps):
        opt.zero_grad()
        values.append(loss(model(X), y))
        model.backward(loss.backward())
        losses.l2_penalty(model, 1e-3)
        opt.step()
    return values


def assert_state_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, k
            assert va.tobytes() == vb.tobytes(), k  # bitwise
        else:
            assert type(va) is type(vb) and va == vb, k


# --- round trips ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_round_trip_model_optimizer_meta(tmp_path, dtype, momentum):
    X, y = spiral()
    model = mlp(0, dtype=dtype)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=momentum, weight_decay=1e-4)
    train(model, opt, X.astype(dtype), y, 3)
    path = tmp_path / "ck.npz"
    meta = {"epoch": 3, "name": "spiral", "lr": 0.5, "flags": [True, None], "nested": {"a": 1}}
    fastbp.save(path, model, opt, **meta)
    ck = fastbp.load(path)
    assert set(ck) == {"model", "optimizer", "meta"}
    assert ck["meta"] == meta
    assert_state_equal(ck["model"], model.state_dict())
    assert_state_equal(ck["optimizer"], opt.state_dict())
    assert ("state.0.momentum_buffer" in ck["optimizer"]) == (momentum != 0)


def test_optimizer_is_none_when_not_saved_and_numpy_meta(tmp_path):
    model = mlp(0)
    path = str(tmp_path / "m.ckpt")  # any name: no suffix is added
    fastbp.save(path, model, epoch=np.int64(7), loss=np.float32(0.25))
    assert os.listdir(tmp_path) == ["m.ckpt"]  # no temporary file left behind
    ck = fastbp.load(path)
    assert ck["optimizer"] is None
    assert ck["meta"] == {"epoch": 7, "loss": 0.25}
    assert_state_equal(ck["model"], model.state_dict())


def test_load_into_fresh_objects(tmp_path):
    X, y = spiral()
    model = mlp(0)
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9, nesterov=True)
    train(model, opt, X, y, 4)
    fastbp.save(tmp_path / "a.npz", model, opt)
    ck = fastbp.load(tmp_path / "a.npz")
    model2 = mlp(10)
    opt2 = optim.SGD(model2.parameters(), lr=0.01, momentum=0.5)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    assert_state_equal(model2.state_dict(), model.state_dict())
    assert_state_equal(opt2.state_dict(), opt.state_dict())
    assert opt2.hyper["nesterov"] is True and opt2.step_count == 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resumed_training_is_bitwise_identical(tmp_path, dtype):
    """Save at step k, reload into fresh objects, continue: the same bits as
    training straight through (parameters, momentum buffers and losses)."""
    X, y = spiral(seed=3)
    X = X.astype(dtype)
    total, k = 30, 11
    ref_model = mlp(5, dtype=dtype)
    ref_opt = optim.SGD(ref_model.parameters(), lr=0.5, momentum=0.9)
    ref_losses = train(ref_model, ref_opt, X, y, total)

    model = mlp(5, dtype=dtype)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    first = train(model, opt, X, y, k)
    fastbp.save(tmp_path / "k.npz", model, opt, step=k)
    del model, opt

    ck = fastbp.load(tmp_path / "k.npz")
    model = mlp(99, dtype=dtype)  # different initial weights, overwritten by the checkpoint
    opt = optim.SGD(model.parameters(), lr=0.01)  # different hyperparameters too
    model.load_state_dict(ck["model"])
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.1)
    opt.load_state_dict(ck["optimizer"])
    rest = train(model, opt, X, y, total - ck["meta"]["step"])

    assert first + rest == ref_losses
    assert_state_equal(model.state_dict(), ref_model.state_dict())
    assert_state_equal(opt.state_dict(), ref_opt.state_dict())


# --- atomic saves -------------------------------------------------------------
SAVER = r"""
import io, sys, time
import numpy as np
import fastbp
from fastbp import checkpoint, nn
path, mode = sys.argv[1], sys.argv[2]
model = nn.Sequential(nn.Linear(1000, 1500, rng=0), nn.Linear(1500, 10, rng=1))


def pause(what):
    print("paused", what, flush=True)
    time.sleep(120)  # the parent kills us here


real_savez, real_fsync = np.savez, checkpoint.os.fsync


def half_savez(f, **arrays):  # writes half of the file, then stops
    buf = io.BytesIO()
    real_savez(buf, **arrays)
    f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    f.flush()
    pause("writing")


def fsync_pause(fd):  # the temporary file is complete but not yet renamed
    real_fsync(fd)
    pause("before rename")


i = 0
while True:
    i += 1
    if i == 2 and mode == "half-written":
        checkpoint.np.savez = half_savez
    if i == 2 and mode == "before-rename":
        checkpoint.os.fsync = fsync_pause
    for p in model.parameters():
        p.data.fill(i)
    print("start", i, flush=True)
    fastbp.save(path, model, i=i)
    print("done", i, flush=True)
"""


def run_saver_and_kill(path, mode, rng):
    """Starts the saving child, kills it (SIGKILL) mid-save, returns the save
    number in progress when it died."""
    child = subprocess.Popen([sys.executable, "-c", SAVER, str(path), mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        target = int(rng.integers(2, 5))
        in_progress = 0
        for line in child.stdout:
            words = line.split()
            if words[0] == "paused":
                break
            if words[0] == "start":
                in_progress = int(words[1])
                if mode == "random" and in_progress == target:
                    time.sleep(float(rng.uniform(0, 0.05)))  # a save takes ~50 ms here
                    break
        else:
            pytest.fail(f"saver exited early: {child.stderr.read()}")
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return in_progress


def check_intact(path, at_least):
    ck = fastbp.load(path)
    i = ck["meta"]["i"]
    assert i >= at_least
    for name, arr in ck["model"].items():
        assert np.all(arr == i), f"{name} mixes two saves"
    model = nn.Sequential(nn.Linear(1000, 1500, rng=5), nn.Linear(1500, 10, rng=6))
    model.load_state_dict(ck["model"])
    return i


@pytest.mark.parametrize("mode", ["half-written", "before-rename"])
def test_killed_mid_save_leaves_previous_checkpoint_intact(tmp_path, mode):
    """The child completes save 1 and is killed during save 2 (while the
    temporary file is half written, or complete but not yet renamed): the
    file holds save 1, and the killed save left only its temporary behind."""
    path = tmp_path / "ck.npz"
    assert run_saver_and_kill(path, mode, np.random.default_rng(0)) == 2
    assert check_intact(path, 1) == 1
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[1] == "ck.npz"
    assert names[0].startswith(".ck.npz.") and names[0].endswith(".tmp")


def test_killed_at_random_moments(tmp_path):
    """A child saves a 6 MB model in a loop (every weight = save number i);
    SIGKILL at random moments during a save always leaves a loadable file
    holding one whole save: the one reported in progress, the one before it, or
    (when the child ran ahead of the parent reading its progress) a later one."""
    path = tmp_path / "ck.npz"
    rng = np.random.default_rng(0)
    for _ in range(4):
        i = run_saver_and_kill(path, "random", rng)
        check_intact(path, at_least=i - 1)
    for name in os.listdir(tmp_path):  # stray temporaries never replace the target
        assert name == "ck.npz" or (name.startswith(".ck.npz.") and name.endswith(".tmp"))


def test_failed_save_leaves_target_and_no_temporary(tmp_path, monkeypatch):
    model = mlp(0)
    path = tmp_path / "ck.npz"
    fastbp.save(path, model, version="old")
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK partial data")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        fastbp.save(path, mlp(1), version="new")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]
    assert fastbp.load(path)["meta"] == {"version": "old"}


def test_save_argument_errors_write_nothing(tmp_path):
    path = tmp_path / "ck.npz"
    model = mlp(0)
    with pytest.raises(TypeError, match="model must be a fastbp.nn.Module"):
        fastbp.save(path, model.state_dict())
    with pytest.raises(TypeError, match="optimizer must be a fastbp.optim.Optimizer"):
        fastbp.save(path, model, "sgd")
    with pytest.raises(TypeError, match="meta must be JSON-serialisable"):
        fastbp.save(path, model, callback=print)
    with pytest.raises(TypeError, match="meta must be JSON-serialisable"):
        fastbp.save(path, model, loss=float("nan"))
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        fastbp.save(tmp_path / "no" / "such" / "dir.npz", model)


# --- bad files: ValueError, nothing changed ---------------------------------------
@pytest.fixture
def good(tmp_path):
    X, y = spiral()
    model = mlp(0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    train(model, opt, X, y, 2)
    path = tmp_path / "good.npz"
    fastbp.save(path, model, opt, epoch=2)
    return path


def members(path):
    """The raw .npy members of a checkpoint as name -> bytes."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(path, raw):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in raw.items():
            zf.writestr(name, data)


def npy_bytes(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=allow_pickle)
    return buf.getvalue()


def header_of(raw):
    return json.loads(np.load(io.BytesIO(raw["header.npy"])).tobytes())


def load_fails(path, match):
    with pytest.raises(ValueError, match=match) as info:
        fastbp.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.6, 0.9, 0.999])
def test_truncated_file(good, tmp_path, fraction):
    data = good.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[: int(len(data) * fraction)])
    load_fails(bad, "not a valid fastbp checkpoint")


def test_every_flipped_byte_is_detected_or_harmless(good, tmp_path):
    """Flip bytes all over the file: load either raises ValueError or (for
    bytes the zip format does not use, e.g. timestamps) returns the same data."""
    data = good.read_bytes()
    want = fastbp.load(good)
    bad = tmp_path / "bad.npz"
    for pos in np.linspace(0, len(data) - 1, 97).astype(int):
        corrupt = bytearray(data)
        corrupt[pos] ^= 0x5A
        bad.write_bytes(bytes(corrupt))
        try:
            got = fastbp.load(bad)
        except ValueError as e:
            assert "not a valid fastbp checkpoint" in str(e)
            continue
        assert_state_equal(got["model"], want["model"])
        assert_state_equal(got["optimizer"], want["optimizer"])
        assert got["meta"] == want["meta"]


@pytest.mark.parametrize("content", [b"", b"hello world\n", bytes(range(256)) * 10])
def test_not_an_npz(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    load_fails(bad, "not an .npz")


def test_plain_npy_and_foreign_npz(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    load_fails(tmp_path / "a.npy", "not an .npz")
    np.savez(tmp_path / "b.npz", weights=np.zeros(3))
    load_fails(tmp_path / "b.npz", "no 'format_version' member")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "nope.npz")


def test_newer_format_version(good, tmp_path):
    raw = members(good)
    raw["format_version.npy"] = npy_bytes(np.array(checkpoint.FORMAT_VERSION + 1))
    bad = tmp_path / "bad.npz"
    write_members(bad, raw)
    load_fails(bad, "format version 2 is newer than this fastbp reads")


def test_pickled_object_array_is_refused_and_never_run(good, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    raw = members(good)
    obj = np.empty(1, dtype=object)
    obj[0] = Payload()
    raw["model.0.npy"] = npy_bytes(obj, allow_pickle=True)
    bad = tmp_path / "bad.npz"
    write_members(bad, raw)
    load_fails(bad, "object/pickled arrays are refused")
    assert not marker.exists()


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda raw: raw.pop("model.1.npy"), "missing member 'model.1'"),
        (lambda raw: raw.update({"extra.npy": npy_bytes(np.zeros(2))}), "unexpected members"),
        (lambda raw: raw.update({"notes.txt": b"hi"}), "unexpected member 'notes.txt'"),
        (lambda raw: raw.update({"model.0.npy": npy_bytes(np.zeros((3, 3), np.float32))}),
         "the header says"),
        (lambda raw: raw.update({"model.0.npy": npy_bytes(np.zeros((2, 32), np.float64))}),
         "the header says"),
        (lambda raw: raw.update({"header.npy": npy_bytes(np.frombuffer(b"{not json", np.uint8))}),
         "header is not valid JSON"),
        (lambda raw: raw.update({"header.npy": npy_bytes(np.zeros(3, np.float32))}),
         "header must be a 1-D uint8"),
        (lambda raw: raw.update({"header.npy": npy_bytes(np.frombuffer(b"[1, 2]", np.uint8))}),
         "does not identify a fastbp checkpoint"),
        (lambda raw: raw.update({"format_version.npy": npy_bytes(np.array(1.0))}),
         "format_version must be a scalar integer"),
        (lambda raw: raw.update({"model.0.npy": npy_bytes(np.zeros(2, "U3"))}),
         "only plain numeric arrays"),
        (lambda raw: raw.update({"model.0.npy": npy_bytes(np.zeros(2, "f4,f4"))}),
         "only plain numeric arrays"),
        (lambda raw: raw.update({"model.0.npy": b"\x93NUMPY garbage"}),
         "unsupported .npy version"),
        (lambda raw: raw.update({"model.0.npy": b"garbage"}), "not a valid .npy"),
    ],
    ids=["missing", "extra-npy", "extra-file", "shape", "dtype", "json", "header-dtype",
         "header-kind", "version-dtype", "str-array", "struct-array", "npy-version", "npy-magic"],
)
def test_inconsistent_members(good, tmp_path, edit, match):
    raw = members(good)
    edit(raw)
    bad = tmp_path / "bad.npz"
    write_members(bad, raw)
    load_fails(bad, match)


def test_huge_declared_shape_does_not_allocate(good, tmp_path):
    """A member whose .npy header claims 8 TB (with a valid CRC) is refused
    from the sizes alone: ValueError, not MemoryError."""
    raw = members(good)
    real = npy_bytes(np.zeros((2, 32), np.float32))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 2)})
    raw["model.0.npy"] = buf.getvalue() + real[len(real) - 2 * 32 * 4:]
    bad = tmp_path / "bad.npz"
    write_members(bad, raw)
    load_fails(bad, "declares shape")


def test_header_shape_must_match_member(good, tmp_path):
    raw = members(good)
    header = header_of(raw)
    header["model"][0]["shape"] = [2, 33]
    raw["header.npy"] = npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))
    bad = tmp_path / "bad.npz"
    write_members(bad, raw)
    load_fails(bad, "the header says")


def test_mismatched_model_changes_nothing(good):
    ck = fastbp.load(good)
    for model in (
        nn.Sequential(nn.Linear(2, 33, rng=0), nn.ReLU(), nn.Linear(33, 3, rng=1)),  # shapes
        nn.Sequential(nn.Linear(2, 32, rng=0), nn.ReLU()),                          # keys
        nn.Sequential(nn.Linear(2, 32, rng=0), nn.ReLU(), nn.Linear(32, 3, rng=1),
                      nn.Linear(3, 3, rng=2)),
    ):
        before = model.state_dict()
        with pytest.raises(ValueError):
            model.load_state_dict(ck["model"])
        assert_state_equal(model.state_dict(), before)


def test_mismatched_optimizer_changes_nothing(good):
    ck = fastbp.load(good)
    model = nn.Sequential(nn.Linear(2, 32, rng=0))  # two parameters, not four
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    opt.step()
    before = opt.state_dict()
    with pytest.raises(ValueError, match="unexpected keys"):
        opt.load_state_dict(ck["optimizer"])
    assert_state_equal(opt.state_dict(), before)


def test_path_like_and_overwrite(tmp_path):
    path = pathlib.Path(tmp_path) / "x.npz"
    fastbp.save(path, mlp(0), n=1)
    fastbp.save(path, mlp(1), n=2)
    assert fastbp.load(path)["meta"] == {"n": 2}
    assert_state_equal(fastbp.load(str(path))["model"], mlp(1).state_dict())
