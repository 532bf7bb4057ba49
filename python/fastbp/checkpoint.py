"""Checkpoints: :func:`save` a model (and optimizer) to one ``.npz`` file, :func:`load` it back.

The file is a plain NumPy ``.npz`` (a zip of ``.npy`` arrays) with no pickled
objects, read with ``allow_pickle=False``, so a checkpoint from a stranger
cannot run code. Its members:

``format_version``  0-d int64, :data:`FORMAT_VERSION` (a newer one is refused)
``header``          uint8 array of UTF-8 JSON: the model and optimizer keys in
                    order, the dtype and shape of every array, the optimizer's
                    scalar hyperparameters, the class names, and ``meta``
``model.<i>``       the i-th array of ``model.state_dict()``
``optimizer.<i>``   the i-th array entry of ``optimizer.state_dict()``

Saving is atomic: the file is written to a temporary file in the target's
directory, flushed and ``fsync``-ed, then renamed over the target with
``os.replace``; a process killed mid-save leaves the previous checkpoint
intact (and at worst a stray ``.<name>.*.tmp`` file beside it).

Loading checks everything it can without the model: the zip structure and
CRCs, the version, that every member the header names is there with the
recorded dtype and shape and nothing else is, and that no array holds Python
objects. Any failure raises ``ValueError`` naming the file and the reason.
Shapes and keys are then checked against the model by
``model.load_state_dict`` / ``optimizer.load_state_dict``, which validate
everything before writing anything.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Optional, Union

import numpy as np

from fastbp.nn.module import Module
from fastbp.optim import Optimizer

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT_VERSION = 1
_MAGIC = "fastbp-checkpoint"
_ARRAY_KINDS = "fiub"  # float, signed, unsigned, bool: never object, str, void

PathLike = Union[str, "os.PathLike[str]"]


def save(path: PathLike, model: Module, optimizer: Optional[Optimizer] = None, **meta: Any) -> None:
    """Writes ``model`` (and ``optimizer``) state and ``meta`` to ``path``, atomically.

    ``path`` is used as given (no ``.npz`` suffix is added). ``meta`` values
    must be JSON-serialisable (numbers, strings, bools, None, lists, dicts with
    string keys; NumPy scalars are converted); NaN/Inf floats are refused so
    the header stays strict JSON. Raises ``TypeError`` for a wrong model,
    optimizer or meta value before anything is written.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: model must be a fastbp.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"save: optimizer must be a fastbp.optim.Optimizer or None, "
            f"got {type(optimizer).__name__}"
        )
    try:
        meta_json = json.dumps(meta, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save: meta must be JSON-serialisable (finite numbers): {e}") from None

    arrays: "OrderedDict[str, np.ndarray]" = OrderedDict()
    header: Dict[str, Any] = {
        "format": _MAGIC,
        "format_version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "model": [],
        "optimizer": None,
        "meta": json.loads(meta_json),
    }
    for i, (name, arr) in enumerate(model.state_dict().items()):
        arr = np.ascontiguousarray(arr)
        arrays[f"model.{i}"] = arr
        header["model"].append(_describe(name, arr))
    if optimizer is not None:
        opt: Dict[str, Any] = {"class": type(optimizer).__name__, "scalars": {}, "arrays": []}
        for key, value in optimizer.state_dict().items():
            if isinstance(value, np.ndarray):
                value = np.ascontiguousarray(value)
                arrays[f"optimizer.{len(opt['arrays'])}"] = value
                opt["arrays"].append(_describe(key, value))
            else:
                opt["scalars"][key] = _json_scalar(value, key)
        header["optimizer"] = opt
    header_bytes = json.dumps(header, allow_nan=False).encode("utf-8")

    members: "OrderedDict[str, np.ndarray]" = OrderedDict()
    members["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    members["header"] = np.frombuffer(header_bytes, dtype=np.uint8)
    members.update(arrays)
    _atomic_write(os.fspath(path), members)


def load(path: PathLike) -> Dict[str, Any]:
    """Reads a checkpoint written by :func:`save`.

    Returns ``{"model": state_dict, "optimizer": state_dict or None, "meta": dict}``
    with the state dicts as ordered ``name -> value`` mappings ready for
    ``model.load_state_dict`` and ``optimizer.load_state_dict``. A file that is
    not a fastbp checkpoint, is truncated or corrupt, was written by a newer
    format version, or holds object (pickled) arrays raises ``ValueError``; a
    missing file raises ``FileNotFoundError``.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            return _read(f)
        except _Invalid as e:
            raise ValueError(f"{path}: not a valid fastbp checkpoint: {e}") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                UnicodeDecodeError, KeyError,
                NotImplementedError) as e:  # zipfile: a corrupt "version needed" field
            raise ValueError(
                f"{path}: not a valid fastbp checkpoint (truncated or corrupt): "
                f"{type(e).__name__}: {e}"
            ) from None


# --- writing ---------------------------------------------------------------
def _atomic_write(path: str, members: "OrderedDict[str, np.ndarray]") -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Makes the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _describe(name: str, arr: np.ndarray) -> Dict[str, Any]:
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"save: state entry {name!r} has unsupported dtype {arr.dtype}")
    return {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape)}


def _json_scalar(value: Any, key: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if not np.isfinite(v):
            raise TypeError(f"save: optimizer state {key!r} is not finite ({v})")
        return v
    raise TypeError(f"save: optimizer state {key!r} has unsupported type {type(value).__name__}")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# --- reading ---------------------------------------------------------------
class _Invalid(Exception):
    """A structural problem; load() turns it into a ValueError naming the file."""


def _read(f) -> Dict[str, Any]:
    if not zipfile.is_zipfile(f):
        raise _Invalid("not an .npz (zip) file, or truncated (no zip directory at its end)")
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        bad = zf.testzip()  # reads every member and checks its CRC
        if bad is not None:
            raise _Invalid(f"member {bad!r} fails its CRC check (corrupt file)")
        for info in zf.infolist():
            _check_npy_member(zf, info)
    f.seek(0)
    with np.load(f, allow_pickle=False) as npz:
        names = set(npz.files)
        for required in ("format_version", "header"):
            if required not in names:
                raise _Invalid(f"no {required!r} member (not written by fastbp.save)")
        version_arr = _member(npz, "format_version")
        if version_arr.shape != () or version_arr.dtype.kind not in "iu":
            raise _Invalid(f"format_version must be a scalar integer, got {version_arr!r}")
        version = int(version_arr)
        if version > FORMAT_VERSION:
            raise _Invalid(
                f"format version {version} is newer than this fastbp reads "
                f"(<= {FORMAT_VERSION}); upgrade fastbp"
            )
        if version < 1:
            raise _Invalid(f"unknown format version {version}")
        header_arr = _member(npz, "header")
        if header_arr.dtype != np.uint8 or header_arr.ndim != 1:
            raise _Invalid(f"header must be a 1-D uint8 array, got {header_arr.dtype} "
                           f"{header_arr.shape}")
        try:
            header = json.loads(header_arr.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _Invalid(f"header is not valid JSON: {e}") from None
        if not isinstance(header, dict) or header.get("format") != _MAGIC:
            raise _Invalid("header does not identify a fastbp checkpoint")
        if header.get("format_version") != version:
            raise _Invalid(f"header version {header.get('format_version')!r} does not match "
                           f"format_version {version}")

        expected = {"format_version", "header"}
        model = _read_arrays(npz, "model", _entries(header.get("model"), "model"), expected)
        opt_header = header.get("optimizer")
        optimizer: Optional["OrderedDict[str, Any]"] = None
        if opt_header is not None:
            if not isinstance(opt_header, dict) or not isinstance(opt_header.get("scalars"), dict):
                raise _Invalid("malformed optimizer header")
            optimizer = OrderedDict()
            for key, value in opt_header["scalars"].items():
                named = key == "optimizer" and isinstance(value, str)  # the optimizer's class
                if not (named or isinstance(value, (bool, int, float))):
                    raise _Invalid(f"optimizer scalar {key!r} is not a number: {value!r}")
                optimizer[key] = value
            arrays = _read_arrays(npz, "optimizer", _entries(opt_header.get("arrays"), "optimizer"),
                                  expected)
            for key, value in arrays.items():
                if key in optimizer:
                    raise _Invalid(f"optimizer key {key!r} appears twice")
                optimizer[key] = value
        extra = sorted(names - expected)
        if extra:
            raise _Invalid(f"unexpected members {extra}")
        meta = header.get("meta", {})
        if not isinstance(meta, dict):
            raise _Invalid("meta is not a JSON object")
    return {"model": model, "optimizer": optimizer, "meta": meta}


def _check_npy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuses a member that is not a plain ``.npy`` of a numeric dtype whose
    declared size matches its stored size, before NumPy allocates anything."""
    if not info.filename.endswith(".npy"):
        raise _Invalid(f"unexpected member {info.filename!r}")
    with zf.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise _Invalid(f"member {info.filename!r} has unsupported .npy version {version}")
        except ValueError as e:
            raise _Invalid(f"member {info.filename!r} is not a valid .npy: {e}") from None
        offset = member.tell()
    if dtype.kind not in _ARRAY_KINDS or dtype.hasobject or dtype.fields is not None:
        raise _Invalid(f"member {info.filename!r} has dtype {dtype}: only plain numeric "
                       f"arrays are allowed (object/pickled arrays are refused)")
    count = 1
    for n in shape:
        count *= int(n)
    if offset + count * dtype.itemsize != info.file_size:
        raise _Invalid(f"member {info.filename!r} declares shape {shape} of {dtype} "
                       f"({count * dtype.itemsize} bytes) but stores "
                       f"{info.file_size - offset} bytes (truncated or corrupt)")


def _member(npz, name: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as e:  # object arrays are refused with allow_pickle=False
        raise _Invalid(f"member {name!r} cannot be read safely: {e}") from None


def _entries(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise _Invalid(f"malformed {what} list in the header")
    for entry in value:
        if (not isinstance(entry, dict) or not isinstance(entry.get("name"), str)
                or not isinstance(entry.get("dtype"), str)
                or not isinstance(entry.get("shape"), list)):
            raise _Invalid(f"malformed {what} entry in the header: {entry!r}")
    return value


def _read_arrays(npz, prefix: str, entries: list, expected: set) -> "OrderedDict[str, np.ndarray]":
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for i, entry in enumerate(entries):
        member = f"{prefix}.{i}"
        if member not in npz.files:
            raise _Invalid(f"missing member {member!r} ({prefix} entry {entry['name']!r})")
        arr = _member(npz, member)
        if arr.dtype.kind not in _ARRAY_KINDS:
            raise _Invalid(f"member {member!r} has unsupported dtype {arr.dtype}")
        if arr.dtype.str != entry["dtype"] or list(arr.shape) != entry["shape"]:
            raise _Invalid(
                f"member {member!r} ({entry['name']!r}) is {arr.dtype.str} {list(arr.shape)}, "
                f"the header says {entry['dtype']} {entry['shape']}"
            )
        if entry["name"] in out:
            raise _Invalid(f"{prefix} key {entry['name']!r} appears twice")
        out[entry["name"]] = arr
        expected.add(member)
    return out
