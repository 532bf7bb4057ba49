"""The op table: every op of :mod:`fastbp.ops`, declared once.

An op is declared by its NumPy twin in :mod:`fastbp.reference`, decorated with
:func:`op`. The twin's name is the op's name (and that of its binding in
``fastbp._core``), its signature the op's arguments, its docstring the op's
documentation, and its body the NumPy computation the core must reproduce.
From this table:

- :mod:`fastbp.ops` binds every entry to its ``_core`` function (:func:`bind`);
- :mod:`fastbp.reference` exports every twin;
- ``tools/gen_stubs.py`` writes ``fastbp/ops/__init__.pyi`` from the twins'
  signatures and ``fastbp/_core.pyi`` from the built module;
- the tests check every binding's arguments against its twin's and every twin
  against its op.

Adding an op therefore touches its kernel, its binding, its twin and its test.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Tuple

__all__ = ["OPS", "OpSpec", "bind", "op"]


@dataclass(frozen=True)
class OpSpec:
    """One op: its name, its NumPy twin, and the float dtypes it takes (every
    array argument of one call shares one of them)."""

    name: str
    twin: Callable[..., Any]
    dtypes: Tuple[str, ...] = ("float32", "float64")


OPS: Dict[str, OpSpec] = {}


def op(twin: Callable[..., Any]) -> Callable[..., Any]:
    """Declares ``twin`` (a function of :mod:`fastbp.reference`) as the twin of
    the op of the same name; returns it unchanged."""
    name = twin.__name__
    if name in OPS:
        raise ValueError(f"op {name!r} is declared twice")
    OPS[name] = OpSpec(name, twin)
    return twin


def bind(spec: OpSpec, core: Any) -> Callable[..., Any]:
    """``fastbp.ops.<name>``: calls ``core.<name>`` with the twin's name,
    signature and docstring."""
    impl = getattr(core, spec.name)

    def call(*args: Any, **kwargs: Any) -> Any:
        return impl(*args, **kwargs)

    call.__name__ = call.__qualname__ = spec.name
    call.__module__ = "fastbp.ops"
    call.__doc__ = spec.twin.__doc__
    call.__signature__ = inspect.signature(spec.twin)  # type: ignore[attr-defined]
    return call
