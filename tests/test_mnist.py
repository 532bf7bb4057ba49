"""IDX reading (valid and broken files written here), load_mnist, load_digits."""

from __future__ import annotations

import gzip
import struct
import sys

import numpy as np
import pytest

from fastbp.data.mnist import load_digits, load_idx, load_mnist
from support import IDX_CODES as CODES
from support import idx_bytes


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(CODES), ids=lambda t: np.dtype(t).name)
def test_roundtrip_every_type(tmp_path, rng, dtype, gz):
    if np.dtype(dtype).kind == "f":
        arr = rng.standard_normal((3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        arr = rng.integers(info.min, info.max, (3, 4, 5), endpoint=True).astype(dtype)
    out = load_idx(write(tmp_path / "a.idx", idx_bytes(arr), gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (3, 4, 5) and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_big_endian_values_decoded(tmp_path):
    # hand-written: int16 values 1 and -2, big-endian
    data = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x00, 0x01, 0xFF, 0xFE])
    np.testing.assert_array_equal(load_idx(write(tmp_path / "h", data)), [1, -2])


def test_empty_dimension(tmp_path):
    out = load_idx(write(tmp_path / "e", idx_bytes(np.zeros((0, 28, 28), np.uint8))))
    assert out.shape == (0, 28, 28)


def test_gz_detected_by_content_not_name(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(load_idx(write(tmp_path / "noext", idx_bytes(arr), gz=True)), arr)
    np.testing.assert_array_equal(load_idx(write(tmp_path / "x.gz", idx_bytes(arr))), arr)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("data, pattern", [
    (b"", r"magic number needs 4 bytes, only 0"),
    (b"\x00\x00\x08", r"magic number needs 4 bytes, only 3"),
    (b"\x01\x00\x08\x01" + b"\x00" * 8, r"not an IDX file.*01 00 08 01"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", r"unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", r"0 dimensions"),
    (GOOD[:10], r"truncated.*3 dimensions needs 12 bytes, only 6"),
    (GOOD[:-1], r"truncated.*needs 24 data bytes.*has 23"),
    (GOOD[:16], r"truncated.*needs 24 data bytes.*has 0"),
    (GOOD + b"\x00", r"trailing bytes"),
], ids=["empty", "short-magic", "bad-magic", "bad-type", "ndim0", "short-dims",
        "short-data", "no-data", "trailing"])
def test_broken_files(tmp_path, data, pattern, gz):
    with pytest.raises(ValueError, match=pattern):
        load_idx(write(tmp_path / "bad", data, gz))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_huge_header_with_short_file_is_rejected_without_allocating(tmp_path, gz):
    # claims 2**32-1 x 2**32-1 x 2**32-1 float64 values (~6e29 bytes); has 8 bytes: the raw
    # file is shorter, the gzip stream's declared size is beyond the cap
    dims = (2**32 - 1,) * 3
    data = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", *dims) + b"\x00" * 8
    with pytest.raises(ValueError, match="more than max_bytes" if gz else "truncated"):
        load_idx(write(tmp_path / "huge", data, gz))


def test_corrupt_gzip(tmp_path):
    packed = gzip.compress(GOOD)
    with pytest.raises(ValueError, match="gzip"):
        load_idx(write(tmp_path / "cut.gz", packed[: len(packed) - 6]))
    bad_crc = bytearray(packed)
    bad_crc[-8] ^= 0xFF  # the CRC32 of the trailer
    with pytest.raises(ValueError, match="gzip"):
        load_idx(write(tmp_path / "crc.gz", bytes(bad_crc)))
    garbage = packed[:10] + b"\xff" * 40
    with pytest.raises(ValueError, match="gzip"):
        load_idx(write(tmp_path / "garbage.gz", garbage))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nope")


# --- load_mnist -------------------------------------------------------------------


def write_mnist(folder, rng, n_train=7, n_test=5, size=(28, 28), gz=(False, True, False, True),
                dotted=False):
    folder.mkdir(exist_ok=True)
    sets = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train,) + size, dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test,) + size, dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for (name, arr), z in zip(sets.items(), gz):
        if dotted:
            name = name.replace("-idx", ".idx")
        write(folder / (name + (".gz" if z else "")), idx_bytes(arr), z)
    return list(sets.values())


@pytest.mark.parametrize("dotted", [False, True], ids=["dash", "dot"])
def test_load_mnist(tmp_path, rng, dotted):
    raw = write_mnist(tmp_path / "mnist", rng, dotted=dotted)
    X_train, y_train, X_test, y_test = load_mnist(tmp_path / "mnist")
    assert X_train.shape == (7, 1, 28, 28) and X_test.shape == (5, 1, 28, 28)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() >= 0 and X_train.max() <= 1
    np.testing.assert_allclose(X_train[:, 0], raw[0] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(X_test[:, 0], raw[2] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, raw[1])
    np.testing.assert_array_equal(y_test, raw[3])


def test_load_mnist_missing_file(tmp_path, rng):
    write_mnist(tmp_path, rng)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")


def test_load_mnist_inconsistent_files(tmp_path, rng):
    write_mnist(tmp_path, rng)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(6, np.uint8)), gz=True)
    with pytest.raises(ValueError, match="6 labels for 7 images"):
        load_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.full(7, 10, np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        load_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((7, 784), np.uint8)))
    with pytest.raises(ValueError, match=r"images must be 3-D"):
        load_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((7, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"images must be uint8"):
        load_mnist(tmp_path)


# --- load_digits ------------------------------------------------------------------


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    with pytest.raises(ImportError, match=r'pip install "fastbp\[examples\]"'):
        load_digits()
