"""``model.summary(input_shape)``: each layer's output shape and parameter count.

Shapes leave out the batch dimension: ``input_shape`` is one sample's, e.g.
``(1, 28, 28)`` for an MNIST image in NCHW.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, List, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:
    from fastbp.nn.module import Module

__all__ = ["summary"]


def _shape(input_shape: Any) -> Tuple[int, ...]:
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        dims = tuple(input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a tuple of ints (one sample's shape, "
                        f"without the batch dimension), got {type(input_shape).__name__}"
                        ) from None
    if not dims or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1
                           for d in dims):
        raise ValueError(f"summary: input_shape must be a non-empty tuple of ints >= 1 (one "
                         f"sample's shape, without the batch dimension), got {input_shape!r}")
    return tuple(int(d) for d in dims)


def _leaves(model: "Module", prefix: str = "") -> List[Tuple[str, "Module"]]:
    """The modules a forward runs one after another: a Sequential's children (and
    theirs), or the module itself."""
    from fastbp.nn.container import Sequential

    if isinstance(model, Sequential) and len(model):
        out: List[Tuple[str, Module]] = []
        for name, child in model._modules.items():
            out += _leaves(child, f"{prefix}.{name}" if prefix else name)
        return out
    return [(prefix or type(model).__name__, model)]


def _count(module: "Module") -> int:
    return int(sum(p.data.size for p in module.parameters()))


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> List[str]:
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    right = (False, False, False, True)  # parameter counts align right
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w)
                         for c, w, r in zip(cells, widths, right)).rstrip()
    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def summary(model: "Module", input_shape: Any, *, show: bool = True) -> str:
    """The table of ``model``'s layers for one sample of ``input_shape``: name,
    layer, output shape (without the batch dimension) and parameter count, then
    the total. Printed when ``show``; returned as a string.

    One sample of zeros runs forward in ``eval()`` mode (so batch-norm
    statistics and dropout are untouched); the model's ``training`` flags are
    restored afterwards. A shape the model cannot take raises ``ValueError``
    naming the layer that refused it.
    """
    shape = _shape(input_shape)
    params = model.parameters()
    dtype = params[0].data.dtype if params else np.dtype(np.float32)
    modes = [(m, m.training) for _, m in model.named_modules()]
    x = np.zeros((1,) + shape, dtype=dtype)
    rows = []
    model.eval()
    try:
        for name, layer in _leaves(model):
            try:
                x = layer(x)
            except (ValueError, TypeError) as e:
                raise ValueError(f"summary: input_shape {shape} does not fit layer {name} "
                                 f"({layer._short_repr()}): {e}") from e
            rows.append((name, layer._short_repr(), str(tuple(np.shape(x)[1:])),
                         f"{_count(layer):,}"))
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    total = sum(p.data.size for p in params)
    lines = [f"{type(model).__name__} summary, input {shape} ({dtype.name}), batch dimension "
             f"not shown"]
    lines += _table(rows, ("name", "layer", "output shape", "params"))
    lines.append(f"total parameters: {total:,}")
    text = "\n".join(lines)
    if show:
        print(text)
    return text
