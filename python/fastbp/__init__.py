"""fastbp: backpropagation with explicit forward/backward layers on a C++ core.

The public surface, re-exported. See ``fastbp.ops`` for the low-level ops,
``fastbp.reference`` for their NumPy twins, ``fastbp.nn`` for layers,
``fastbp.losses``, ``fastbp.optim``, ``fastbp.schedules``, ``fastbp.graph``
(scalar gates and autograd), ``fastbp.fit`` (a training loop returning a
``History``), ``fastbp.distributed`` (data-parallel training over MPI),
``save``/``load`` for checkpoints, ``set_debug`` for the
finite-value guard, and ``cached_bytes``/``empty_cache`` for the cache of freed
result buffers that lets a training loop reuse memory instead of faulting in
fresh pages every step.

The other submodules (``fastbp.data``, ``fastbp.reference``,
``fastbp.examples``, ...) load on first attribute access (PEP 562), so
``import fastbp`` stays fast and ``fastbp.data.spiral()`` works without an
import of its own.
"""

import importlib as _importlib
import importlib.util as _importlib_util
import pkgutil as _pkgutil

from fastbp._core import (
    MAX_NUM_THREADS,
    build_info,
    cached_bytes,
    empty_cache,
    get_num_threads,
    set_num_threads,
)
from fastbp.ops import gemm, matmul

from fastbp import debug, distributed, graph, losses, nn, optim, schedules
from fastbp.checkpoint import load, save
from fastbp.debug import get_debug, set_debug
from fastbp.gradcheck import GradcheckError, gradcheck
from fastbp.trainer import Callback, EarlyStopping, History, fit

__version__: str = build_info()["version"]

__all__ = [
    "MAX_NUM_THREADS",
    "Callback",
    "EarlyStopping",
    "GradcheckError",
    "History",
    "__version__",
    "build_info",
    "cached_bytes",
    "debug",
    "distributed",
    "empty_cache",
    "fit",
    "gemm",
    "get_debug",
    "get_num_threads",
    "gradcheck",
    "graph",
    "load",
    "losses",
    "matmul",
    "nn",
    "optim",
    "save",
    "schedules",
    "set_debug",
    "set_num_threads",
]


def __getattr__(name: str):
    """Imports the public submodule ``fastbp.<name>`` on first access (PEP 562)."""
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    """The public names and every public submodule, loaded or not."""
    subs = [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(set(globals()) | set(subs))
