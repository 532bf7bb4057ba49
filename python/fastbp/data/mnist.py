"""Handwritten digits: MNIST IDX files and scikit-learn's 8x8 digits.

Images come out as float32 NCHW arrays in [0, 1], labels as int64, ready for
``Conv2d`` and ``SoftmaxCrossEntropy``.

The IDX format (the one MNIST ships in): a 4-byte magic number
``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32 dimensions, then
the values in C order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B
int16, 0x0C int32, 0x0D float32, 0x0E float64. :func:`load_idx` checks all of
this before it allocates the array: the payload the header declares must be at
most :data:`MAX_IDX_BYTES` (or ``max_bytes``) and, for a raw file, exactly what
the file holds. The data is then read (and inflated, for ``.gz``) in one pass
straight into the final array, so resident memory stays about the size of the
real data, whatever a compressed file declares: a corrupt, truncated or
oversized file raises ``ValueError``, never a crash or a huge allocation.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
import zlib
from typing import BinaryIO, Tuple, Union

import numpy as np

__all__ = ["MAX_IDX_BYTES", "load_digits", "load_idx", "load_mnist"]

PathLike = Union[str, "os.PathLike[str]"]

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Largest payload :func:`load_idx` reads by default (2 GiB; MNIST's largest file holds
#: 47 MB). A header declaring more is refused before anything is allocated.
MAX_IDX_BYTES = 1 << 31

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read files a MiB at a time: memory grows only with real data


def _read_exact(f: BinaryIO, n: int, path: str, what: str) -> bytes:
    """Exactly n bytes from f (read in chunks, so a bogus n never allocates n up front)."""
    parts = []
    remaining = n
    while remaining > 0:
        block = f.read(min(remaining, _CHUNK))
        if not block:
            break
        parts.append(block)
        remaining -= len(block)
    data = b"".join(parts)
    if len(data) != n:
        raise ValueError(
            f"{path}: truncated IDX file: the {what} needs {n} bytes, only {len(data)} present"
        )
    return data


def _parse_header(f: BinaryIO, path: str) -> Tuple[np.dtype, Tuple[int, ...], int]:
    """(dtype, shape, header length in bytes), validated."""
    magic = _read_exact(f, 4, path, "magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, "
            f"got {magic.hex(' ')}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    shape = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, f"{ndim} dimensions"))
    return IDX_DTYPES[code], tuple(int(d) for d in shape), 4 + 4 * ndim


def _payload_size(dtype: np.dtype, shape: Tuple[int, ...]) -> int:
    count = 1
    for d in shape:
        count *= d
    return count * dtype.itemsize


def _check_cap(dtype: np.dtype, shape: Tuple[int, ...], path: str, max_bytes: int) -> None:
    nbytes = _payload_size(dtype, shape)
    if nbytes > max_bytes:
        raise ValueError(
            f"{path}: IDX header declares shape {shape} of {dtype.name} ({nbytes} bytes), more "
            f"than max_bytes = {max_bytes} (fastbp.data.mnist.MAX_IDX_BYTES by default)"
        )


def _read_into(f: BinaryIO, dtype: np.dtype, shape: Tuple[int, ...], path: str) -> np.ndarray:
    """The payload of f (positioned after the header) read straight into a new array in
    native byte order, a chunk at a time; ValueError if f ends early or has trailing bytes.
    Pages of the array never written (a truncated file) are never touched, so resident
    memory grows only with the data that is really there."""
    arr = np.empty(shape, dtype.newbyteorder("="))
    view = memoryview(arr.reshape(-1).view(np.uint8))
    pos = 0
    while pos < len(view):
        n = f.readinto(view[pos:pos + _CHUNK])
        if not n:
            raise ValueError(
                f"{path}: truncated IDX file: shape {shape} of {dtype.name} needs {len(view)} "
                f"data bytes, the decompressed file has {pos}"
            )
        pos += n
    if f.read(1):
        raise ValueError(
            f"{path}: unexpected trailing bytes after the data of shape {shape} "
            f"({len(view)} bytes)"
        )
    if dtype.itemsize > 1 and sys.byteorder == "little":
        arr.byteswap(inplace=True)  # the file's big-endian values, now native
    return arr


def _load_raw(path: str, max_bytes: int) -> np.ndarray:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        dtype, shape, header = _parse_header(f, path)
        expected = _payload_size(dtype, shape)
        found = size - header
        if found < expected:
            raise ValueError(
                f"{path}: truncated IDX file: shape {shape} of {dtype.name} needs {expected} "
                f"data bytes, the file has {found}"
            )
        _check_cap(dtype, shape, path, max_bytes)
        if found > expected:
            raise ValueError(
                f"{path}: {found - expected} unexpected trailing bytes after the data of "
                f"shape {shape} ({expected} bytes)"
            )
        return _read_into(f, dtype, shape, path)


def _load_gzip(path: str, max_bytes: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            dtype, shape, _ = _parse_header(f, path)
            _check_cap(dtype, shape, path, max_bytes)
            return _read_into(f, dtype, shape, path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip stream: {e}") from None


def load_idx(path: PathLike, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Reads one IDX file (raw or gzip-compressed, detected from its first bytes).

    Returns an array of the file's shape in native byte order: uint8, int8,
    int16, int32, float32 or float64 by the type code. Raises
    ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file
    and the problem for a bad magic number or type code, a truncated header or
    payload, trailing bytes, a corrupt gzip stream, or a payload declared larger
    than ``max_bytes`` (checked before anything is allocated). Peak memory is the
    array plus a MiB, also for ``.gz`` files.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head == _GZIP_MAGIC:
        return _load_gzip(path, max_bytes)
    return _load_raw(path, max_bytes)


#: The four MNIST files, by role: accepted with '-' or '.' before "idx", and with or without .gz.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find(directory: str, stem: str) -> str:
    dotted = stem.replace("-idx", ".idx")
    candidates = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"load_mnist: no {stem} file in {directory!r} (looked for {', '.join(candidates)})"
    )


def _images(path: str) -> np.ndarray:
    raw = load_idx(path)
    if raw.ndim != 3:
        raise ValueError(f"{path}: MNIST images must be 3-D (N, H, W), got shape {raw.shape}")
    if raw.dtype != np.uint8:
        raise ValueError(f"{path}: MNIST images must be uint8 (type 0x08), got {raw.dtype}")
    X = raw.reshape(raw.shape[0], 1, raw.shape[1], raw.shape[2]).astype(np.float32)
    X *= np.float32(1.0 / 255.0)
    return X


def _labels(path: str, n_images: int, images_path: str) -> np.ndarray:
    raw = load_idx(path)
    if raw.ndim != 1:
        raise ValueError(f"{path}: MNIST labels must be 1-D (N,), got shape {raw.shape}")
    if raw.dtype.kind not in "iu":
        raise ValueError(f"{path}: MNIST labels must be integers, got {raw.dtype}")
    if raw.shape[0] != n_images:
        raise ValueError(
            f"{path}: {raw.shape[0]} labels for {n_images} images in {images_path}"
        )
    y = raw.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{path}: labels must lie in [0, 9], got [{y.min()}, {y.max()}]")
    return y


def load_mnist(
    directory: PathLike,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST from the four standard IDX files in ``directory``.

    Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or with
    ``.gz`` (``train-images.idx3-ubyte`` spellings work too). Returns
    ``(X_train, y_train, X_test, y_test)``: X float32 (N, 1, H, W) scaled to
    [0, 1] (pixel / 255), y int64 (N,). A missing file raises
    ``FileNotFoundError``; inconsistent files ``ValueError``.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_mnist: {directory!r} is not a directory")
    paths = {role: _find(directory, stem) for role, stem in MNIST_FILES.items()}
    X_train = _images(paths["train_images"])
    y_train = _labels(paths["train_labels"], X_train.shape[0], paths["train_images"])
    X_test = _images(paths["test_images"])
    y_test = _labels(paths["test_labels"], X_test.shape[0], paths["test_images"])
    return X_train, y_train, X_test, y_test


def load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits that ship with scikit-learn.

    Returns X float32 (1797, 1, 8, 8) scaled to [0, 1] (the 0..16 grey levels
    divided by 16) and y int64 (1797,) in 0..9, in scikit-learn's order.
    scikit-learn is optional: without it this raises ``ImportError`` saying how
    to install it.
    """
    try:
        from sklearn import datasets
    except ImportError as e:
        raise ImportError(
            'load_digits needs scikit-learn: pip install "fastbp[examples]" '
            "(or pip install scikit-learn)"
        ) from e
    bunch = datasets.load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    X = (images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    return X, y
