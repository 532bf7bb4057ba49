"""Resident memory stays flat over many calls: results and workspaces are freed."""

import numpy as np
import pytest

from fastbp import losses, nn, ops, optim


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def growth_over(fn, calls: int) -> int:
    for _ in range(20):  # warm up: workspaces, allocator pools
        fn()
    before = resident_bytes()
    for _ in range(calls):
        fn()
    return resident_bytes() - before


def test_op_results_are_freed():
    x = np.ones((512, 512), np.float32)  # every result below is 1 MiB
    w = np.ones((512, 512), np.float32)

    def calls():
        ops.linear_forward(x, w, None)
        ops.relu_backward(x, x)
        ops.softmax_cross_entropy(x, np.zeros(512, np.int64))
        ops.conv2d_backward(np.ones((2, 4, 8, 8), np.float32), np.ones((2, 3, 8, 8), np.float32),
                            np.ones((4, 3, 3, 3), np.float32), 1, 1)

    # A leaked result would add >= 3 MiB per round, 1.5 GiB in all.
    assert growth_over(calls, 500) < 64 << 20


def test_training_steps_keep_memory_flat():
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, size=64)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(288, 10, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    assert growth_over(step, 1000) < 32 << 20


# --- crafted files: peak resident memory while reading ----------------------
# Each is read in a fresh interpreter whose peak resident memory (ru_maxrss) is
# compared before and after the read: the growth is the reader's own peak.
PEAK_GROWTH = """
import resource, sys
import numpy as np
from fastbp.checkpoint import load
from fastbp.data.mnist import load_idx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    result = {call}
    outcome = "ok"
except ValueError as e:
    outcome = "ValueError: " + str(e)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
print(outcome)
"""

DATA = 64 << 20  # the legitimate data of the files below: 64 MiB


def peak_growth(call: str):
    """(peak resident growth in bytes, outcome) of `call` in a fresh interpreter."""
    from support import run_python

    result = run_python(PEAK_GROWTH.format(call=call))
    assert result.returncode == 0, result.stderr
    growth, outcome = result.stdout.splitlines()
    return int(growth), outcome


def idx_gz(path, dims, payload: bytes):
    import gzip
    import struct

    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        f.write(payload)
    return path


def test_idx_gzip_is_read_in_one_pass(tmp_path):
    """A valid .gz of 64 MiB (a few hundred KiB compressed): peak growth below 1.25x the
    data plus 16 MiB (the earlier reader kept the parts, their join and a copy: 3x)."""
    images = DATA // 784
    pattern = (bytes(range(256)) * (DATA // 256))[: images * 784]
    path = idx_gz(tmp_path / "big.gz", (images, 28, 28), pattern)
    growth, outcome = peak_growth(f"load_idx({str(path)!r})")
    assert outcome == "ok"
    assert growth < 1.25 * DATA + (16 << 20), growth


def test_idx_gzip_bomb_declaring_too_much_is_refused_before_reading(tmp_path):
    """The issue's bomb: (4294967295, 28, 28) declared over 64 MiB of zeros."""
    path = idx_gz(tmp_path / "bomb.gz", (4294967295, 28, 28), bytes(DATA))
    growth, outcome = peak_growth(f"load_idx({str(path)!r})")
    assert outcome.startswith("ValueError") and "more than max_bytes" in outcome
    assert growth < 16 << 20, growth


def test_idx_gzip_truncated_under_the_cap_touches_only_real_data(tmp_path):
    """1 GiB declared (under the cap), 64 MiB present: truncated, and peak growth follows
    the data that is there, not the declared size."""
    path = idx_gz(tmp_path / "short.gz", (1 << 30,), bytes(DATA))
    growth, outcome = peak_growth(f"load_idx({str(path)!r})")
    assert outcome.startswith("ValueError") and "truncated" in outcome
    assert growth < 1.25 * DATA + (16 << 20), growth


@pytest.fixture(scope="module")
def compressed_checkpoint(tmp_path_factory):
    """A deflated checkpoint of a Linear(2048, 8192) of zeros: 64 MiB of float32 in a file
    of a few hundred KiB."""
    import zipfile

    import fastbp

    path = tmp_path_factory.mktemp("ck") / "ck.npz"
    model = nn.Linear(2048, 8192, rng=0)
    for p in model.parameters():
        p.data[...] = 0
    stored = path.with_suffix(".stored")
    fastbp.save(stored, model)
    with zipfile.ZipFile(stored) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    stored.unlink()
    return path


def test_compressed_checkpoint_is_inflated_once(compressed_checkpoint):
    """Peak growth below 1.25x the arrays plus 16 MiB (the earlier reader inflated every
    member twice, testzip then np.load)."""
    growth, outcome = peak_growth(f"load({str(compressed_checkpoint)!r})")
    assert outcome == "ok"
    assert growth < 1.25 * DATA + (16 << 20), growth


def test_compressed_checkpoint_over_the_budget_is_refused_before_inflating(
        compressed_checkpoint):
    growth, outcome = peak_growth(f"load({str(compressed_checkpoint)!r}, max_bytes=16 << 20)")
    assert outcome.startswith("ValueError") and "more than the budget" in outcome
    assert growth < 16 << 20, growth
