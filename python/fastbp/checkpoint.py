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
recorded dtype and shape and nothing else is (no name twice), and that no array
holds Python objects. Before it inflates anything it checks the sizes the zip
directory and the ``.npy`` headers declare against a budget (the file's own size,
or :data:`MAX_CHECKPOINT_BYTES` for compressed members), so a small file cannot
make it allocate gigabytes; each member is then inflated once, straight into its
array. The JSON header may nest at most :data:`MAX_JSON_DEPTH` levels. Any
failure raises ``ValueError`` naming the file and the reason.
Shapes and keys are then checked against the model by
``model.load_state_dict`` / ``optimizer.load_state_dict``, which validate
everything before writing anything.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Optional, Union

import numpy as np

from fastbp import distributed
from fastbp.nn.module import Module
from fastbp.optim import Optimizer

__all__ = ["FORMAT_VERSION", "MAX_CHECKPOINT_BYTES", "MAX_JSON_DEPTH", "load", "save"]

FORMAT_VERSION = 1
#: Default budget of :func:`load` for the bytes its members inflate to (1 GiB), beyond the
#: file's own size: a checkpoint written by :func:`save` is stored uncompressed, so its
#: members never exceed the file; a compressed one may inflate to this much (``max_bytes``).
MAX_CHECKPOINT_BYTES = 1 << 30
#: Deepest nesting of JSON arrays and objects in a header (``meta`` sits at level 2).
MAX_JSON_DEPTH = 64
_MAX_HEADER_BYTES = 16 << 20  # the JSON header member
_CHUNK = 1 << 20  # members are inflated a MiB at a time
_MAGIC = "fastbp-checkpoint"
_ARRAY_KINDS = "fiub"  # float, signed, unsigned, bool: never object, str, void

PathLike = Union[str, "os.PathLike[str]"]


def save(path: PathLike, model: Module, optimizer: Optional[Optimizer] = None, **meta: Any) -> None:
    """Writes ``model`` (and ``optimizer``) state and ``meta`` to ``path``, atomically.

    ``path`` is used as given (no ``.npz`` suffix is added). ``meta`` values
    must be JSON-serialisable (numbers, strings, bools, None, lists, dicts with
    string keys; NumPy scalars are converted); NaN/Inf floats are refused so
    the header stays strict JSON, and nesting deeper than :data:`MAX_JSON_DEPTH`
    levels (counting the header's two) is refused. Raises ``TypeError`` for a
    wrong model, optimizer or meta value before anything is written.

    In a data-parallel job (:func:`fastbp.distributed.init`) every rank may
    call ``save``: all check their arguments, rank 0 alone writes. A
    :class:`~fastbp.distributed.DistributedOptimizer` is saved as the
    optimizer it wraps.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: model must be a fastbp.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"save: optimizer must be a fastbp.optim.Optimizer or None, "
            f"got {type(optimizer).__name__}"
        )
    optimizer = distributed.unwrap(optimizer)
    try:
        meta_json = json.dumps(meta, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save: meta must be JSON-serialisable (finite numbers): {e}") from None
    except RecursionError:
        raise TypeError(f"save: meta nests deeper than {MAX_JSON_DEPTH - 2} levels") from None
    if _json_depth(meta_json.encode("utf-8")) > MAX_JSON_DEPTH - 2:
        raise TypeError(f"save: meta nests deeper than {MAX_JSON_DEPTH - 2} levels")

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
    if not distributed.is_root():  # data parallel: rank 0 writes for every rank
        return
    _atomic_write(os.fspath(path), members)


def load(path: PathLike, *, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Dict[str, Any]:
    """Reads a checkpoint written by :func:`save`.

    Returns ``{"model": state_dict, "optimizer": state_dict or None, "meta": dict}``
    with the state dicts as ordered ``name -> value`` mappings ready for
    ``model.load_state_dict`` and ``optimizer.load_state_dict``. A file that is
    not a fastbp checkpoint, is truncated or corrupt, was written by a newer
    format version, holds object (pickled) arrays, a member name twice, a header
    nested deeper than :data:`MAX_JSON_DEPTH`, or members declaring more bytes
    than the larger of the file's size and ``max_bytes`` raises ``ValueError``
    (checked before anything is inflated); so does running out of memory while
    reading. A missing file raises ``FileNotFoundError``.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            return _read(f, max(int(max_bytes), os.fstat(f.fileno()).st_size))
        except _Invalid as e:
            raise ValueError(f"{path}: not a valid fastbp checkpoint: {e}") from None
        except MemoryError:
            raise ValueError(f"{path}: checkpoint too large to load in the memory available") \
                from None
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


def _read(f, budget: int) -> Dict[str, Any]:
    if not zipfile.is_zipfile(f):
        raise _Invalid("not an .npz (zip) file, or truncated (no zip directory at its end)")
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        infos: Dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise _Invalid(f"unexpected member {info.filename!r}")
            name = info.filename[: -len(".npy")]
            if name in infos:
                raise _Invalid(f"member {name!r} appears twice (one copy could hide the other)")
            infos[name] = info
        declared = sum(info.file_size for info in infos.values())
        if declared > budget:
            raise _Invalid(f"members declare {declared} bytes, more than the budget of "
                           f"{budget} (the file's size, or max_bytes for compressed members)")
        for required in ("format_version", "header"):
            if required not in infos:
                raise _Invalid(f"no {required!r} member (not written by fastbp.save)")
        version_arr = _read_npy(zf, infos["format_version"])
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
        if infos["header"].file_size > _MAX_HEADER_BYTES:
            raise _Invalid(f"header member is larger than {_MAX_HEADER_BYTES} bytes")
        header_arr = _read_npy(zf, infos["header"])
        if header_arr.dtype != np.uint8 or header_arr.ndim != 1:
            raise _Invalid(f"header must be a 1-D uint8 array, got {header_arr.dtype} "
                           f"{header_arr.shape}")
        header_bytes = header_arr.tobytes()
        if _json_depth(header_bytes) > MAX_JSON_DEPTH:
            raise _Invalid(f"header nests deeper than {MAX_JSON_DEPTH} levels")
        try:
            header = json.loads(header_bytes.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise _Invalid(f"header is not valid JSON: {type(e).__name__}: {e}") from None
        if not isinstance(header, dict) or header.get("format") != _MAGIC:
            raise _Invalid("header does not identify a fastbp checkpoint")
        if header.get("format_version") != version:
            raise _Invalid(f"header version {header.get('format_version')!r} does not match "
                           f"format_version {version}")

        expected = {"format_version", "header"}
        model = _read_arrays(zf, infos, "model", _entries(header.get("model"), "model"),
                             expected)
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
            arrays = _read_arrays(zf, infos, "optimizer",
                                  _entries(opt_header.get("arrays"), "optimizer"), expected)
            for key, value in arrays.items():
                if key in optimizer:
                    raise _Invalid(f"optimizer key {key!r} appears twice")
                optimizer[key] = value
        extra = sorted(set(infos) - expected)
        if extra:
            raise _Invalid(f"unexpected members {extra}")
        meta = header.get("meta", {})
        if not isinstance(meta, dict):
            raise _Invalid("meta is not a JSON object")
    return {"model": model, "optimizer": optimizer, "meta": meta}


# JSON string literals (escapes included), whose brackets do not nest.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def _json_depth(text: bytes) -> int:
    """Deepest nesting of arrays and objects in the JSON ``text`` (0 for a scalar),
    counted without parsing (``json.loads`` recurses once per level)."""
    steps = _BRACKET_STEP[np.frombuffer(_JSON_STRING.sub(b'""', text), np.uint8)]
    steps = steps[steps != 0]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """(open member positioned at its data, shape, dtype) of a plain ``.npy`` member of a
    numeric dtype whose declared size matches the size the zip directory records:
    nothing is allocated from a size that was not checked against the budget."""
    name = info.filename[: -len(".npy")]
    member = zf.open(info)
    try:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise _Invalid(f"member {name!r} has unsupported .npy version {version}")
        except ValueError as e:
            raise _Invalid(f"member {name!r} is not a valid .npy: {e}") from None
        if dtype.kind not in _ARRAY_KINDS or dtype.hasobject or dtype.fields is not None:
            raise _Invalid(f"member {name!r} has dtype {dtype}: only plain numeric "
                           f"arrays are allowed (object/pickled arrays are refused)")
        if fortran and len(shape) > 1:
            raise _Invalid(f"member {name!r} is stored in Fortran order (fastbp.save "
                           f"writes C order)")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        stored = info.file_size - member.tell()
        if nbytes != stored:
            raise _Invalid(f"member {name!r} declares shape {shape} of {dtype} "
                           f"({nbytes} bytes) but stores {stored} bytes (truncated or corrupt)")
    except BaseException:
        member.close()
        raise
    return member, shape, dtype


def _read_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, want: Optional[Dict[str, Any]] = None):
    """The member's array, inflated once straight into it (the zip's CRC checked at its
    end); when `want` (a header entry) is given, its dtype and shape are compared first."""
    member, shape, dtype = _npy_header(zf, info)
    with member:
        name = info.filename[: -len(".npy")]
        if want is not None and (dtype.str != want["dtype"] or list(shape) != want["shape"]):
            raise _Invalid(
                f"member {name!r} ({want['name']!r}) is {dtype.str} {list(shape)}, "
                f"the header says {want['dtype']} {want['shape']}"
            )
        arr = np.empty(shape, dtype)
        view = memoryview(arr.reshape(-1).view(np.uint8))
        pos = 0
        while pos < len(view):
            block = member.read1(min(_CHUNK, len(view) - pos))  # read1: no joins of pieces
            if not block:
                raise _Invalid(f"member {name!r} ends early (truncated or corrupt)")
            view[pos:pos + len(block)] = block
            pos += len(block)
        if member.read(1):  # also where zipfile compares the CRC, at the member's end
            raise _Invalid(f"member {name!r} has trailing bytes")
    return arr


def _entries(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise _Invalid(f"malformed {what} list in the header")
    for entry in value:
        if (not isinstance(entry, dict) or not isinstance(entry.get("name"), str)
                or not isinstance(entry.get("dtype"), str)
                or not isinstance(entry.get("shape"), list)):
            raise _Invalid(f"malformed {what} entry in the header: {entry!r}")
    return value


def _read_arrays(zf: zipfile.ZipFile, infos: Dict[str, zipfile.ZipInfo], prefix: str,
                 entries: list, expected: set) -> "OrderedDict[str, np.ndarray]":
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for i, entry in enumerate(entries):
        member = f"{prefix}.{i}"
        if member not in infos:
            raise _Invalid(f"missing member {member!r} ({prefix} entry {entry['name']!r})")
        if entry["name"] in out:
            raise _Invalid(f"{prefix} key {entry['name']!r} appears twice")
        out[entry["name"]] = _read_npy(zf, infos[member], entry)
        expected.add(member)
    return out
