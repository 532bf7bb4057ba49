"""Debug switches: the finite-value guard.

``fastbp.set_debug(check_finite=True)`` makes every module call (``model(x)``)
and every backward pass run by :class:`fastbp.nn.Sequential` check for NaN and
Inf, and raise :class:`NonFiniteError` (a ``FloatingPointError``) at the first
layer that produced one, naming the layer by its path and repr and the pass::

    forward pass: Sequential[2] Linear(in_features=100, out_features=3, bias=True)
    produced Inf in its output (1 of 300 values, first at index (0, 1)); its
    parameter 'weight' contains Inf

What is checked, when on:

* forward: the input of each leaf layer (a module without children) before it
  runs, then the output of every module after it runs;
* backward (of the layers a ``Sequential`` runs): the ``dout`` each leaf layer
  receives, then the ``dx`` it returns and its own parameters' gradients.

A module that drives its children's backward passes itself (not through
``Sequential``) can run them through :func:`checked_backward`.

When off (the default) the only cost is one boolean test per module call and
per ``Sequential.backward``: all the checking code lives here.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["NonFiniteError", "checked_backward", "debug_mode", "get_debug", "set_debug"]

# Read by fastbp.nn.module.Module.__call__ and fastbp.nn.container.Sequential.backward.
_check_finite = False


def set_debug(*, check_finite: Optional[bool] = None) -> Dict[str, bool]:
    """Turns debug checks on or off; arguments left as None keep their setting.

    ``check_finite``: raise :class:`NonFiniteError` (a ``FloatingPointError``)
    at the first layer and pass producing NaN or Inf. Process-wide (all
    threads). Returns the settings in force before the call, so
    ``set_debug(**previous)`` restores them.
    """
    global _check_finite
    previous = get_debug()
    if check_finite is not None:
        if not isinstance(check_finite, (bool, np.bool_)):
            raise TypeError(f"set_debug: check_finite must be a bool, got {check_finite!r}")
        _check_finite = bool(check_finite)
    return previous


def get_debug() -> Dict[str, bool]:
    """The current debug settings, e.g. ``{"check_finite": False}``."""
    return {"check_finite": _check_finite}


@contextlib.contextmanager
def debug_mode(**settings: bool) -> Iterator[None]:
    """``with debug_mode(check_finite=True): ...`` -- :func:`set_debug` for a block."""
    previous = set_debug(**settings)
    try:
        yield
    finally:
        set_debug(**previous)


class NonFiniteError(FloatingPointError):
    """NaN or Inf found by the finite-value guard.

    Attributes: ``module`` (the layer that produced or received it), ``pass_``
    (``"forward"`` or ``"backward"``), ``what`` (``"output"``, ``"input"``,
    ``"dout"``, ``"dx"``, ``"gradient of 'weight'"``, ...), ``path`` (the
    layer's place in the model, e.g. ``"Sequential[2]"``; its own class name
    when it was called directly).
    """

    def __init__(self, module: Any, pass_: str, detail: str, what: str) -> None:
        self.module = module
        self.pass_ = pass_
        self.what = what
        self._detail = detail
        self._names: List[str] = []
        self._top = module
        self._detached = False
        super().__init__(self._render())

    @property
    def path(self) -> str:
        """The failing module's place in the model, e.g. ``Sequential[2]``."""
        root = type(self._top).__name__
        return root + "".join(f"[{n}]" if n.isdigit() else f".{n}" for n in self._names)

    def _render(self) -> str:
        where = f"{self.path} " if self._names else ""
        return f"{self.pass_} pass: {where}{_short(self.module)} {self._detail}"

    def _add_parent(self, parent: Any) -> None:
        """Called by each enclosing module on the way out: extends the path."""
        if self._detached:
            return
        for name, child in getattr(parent, "_modules", {}).items():
            if child is self._top:
                self._names.insert(0, name)
                self._top = parent
                self.args = (self._render(),)
                return
        self._detached = True  # called by something that is not its parent: keep the path


# --- hooks (called only when the guard is on) -------------------------------
def checked_call(module: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """``module.forward(*args, **kwargs)`` with the forward checks."""
    leaf = not module._modules
    if leaf:
        for i, arg in enumerate(args):
            bad = _first_nonfinite(arg)
            if bad is not None:
                what = "input" if len(args) == 1 else f"input {i}"
                raise NonFiniteError(
                    module, "forward",
                    f"received {what} containing {bad} (it came from before this layer)", what)
    try:
        out = module.forward(*args, **kwargs)
    except NonFiniteError as e:
        e._add_parent(module)
        raise
    bad = _first_nonfinite(out)
    if bad is not None:
        source = " from finite input" if leaf else ""
        raise NonFiniteError(
            module, "forward",
            f"produced {bad} in its output{source}{_parameter_hint(module)}", "output")
    return out


def checked_backward(module: Any, dout: Any) -> Any:
    """``module.backward(dout)`` with the backward checks (the error names
    ``module`` itself; an enclosing module adds its path by catching
    :class:`NonFiniteError` and calling ``e._add_parent(self)``)."""
    leaf = not module._modules
    if leaf:
        bad = _first_nonfinite(dout)
        if bad is not None:
            raise NonFiniteError(
                module, "backward",
                f"received dout containing {bad} (it came from the loss or the layer after it)",
                "dout")
    dx = module.backward(dout)
    bad = _first_nonfinite(dx)
    if bad is not None:
        raise NonFiniteError(
            module, "backward",
            f"produced {bad} in dx{_parameter_hint(module)}", "dx")
    for name, p in module._parameters.items():
        bad = _first_nonfinite(p.grad)
        if bad is not None:
            raise NonFiniteError(
                module, "backward",
                f"produced {bad} in the gradient of its parameter {name!r}"
                f"{_parameter_hint(module)}", f"gradient of {name!r}")
    return dx


def checked_sequential_backward(seq: Any, steps: Sequence[Any], dout: Any) -> Any:
    """``Sequential.backward`` with the backward checks, step by step in reverse
    (``steps``: what the last forward ran, the children or fused runs of them)."""
    try:
        for child in reversed(steps):
            if dout is None:  # the module after child was built with input_grad=False
                raise seq._no_input_grad_error(child)
            dout = checked_backward(child, dout)
    except NonFiniteError as e:
        e._add_parent(seq)
        raise
    return dout


# --- helpers ------------------------------------------------------------------
def _first_nonfinite(value: Any) -> Optional[str]:
    """None when finite (or not numeric), else a description such as
    ``"NaN (2 of 12 values, first at index (0, 1))"``."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fc":
            return None
        finite = np.isfinite(value)
        if finite.all():
            return None
        flat = int(np.argmin(finite.reshape(-1)))
        index = np.unravel_index(flat, value.shape) if value.ndim else ()
        first = value[index] if value.ndim else value[()]
        kind = "NaN" if np.isnan(first) else "Inf"
        count = int(finite.size - np.count_nonzero(finite))
        where = f", first at index {tuple(int(i) for i in index)}" if value.ndim else ""
        return f"{kind} ({count} of {finite.size} values{where})"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isfinite(v) else ("NaN" if math.isnan(v) else "Inf")
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            bad = _first_nonfinite(item)
            if bad is not None:
                return f"{bad} in element {i}"
    return None


def _parameter_hint(module: Any) -> str:
    bad = [
        f"{name!r} contains {'NaN' if np.isnan(p.data).any() else 'Inf'}"
        for name, p in module._parameters.items()
        if not np.isfinite(p.data).all()
    ]
    return "; its parameter " + ", ".join(bad) if bad else ""


def _short(module: Any) -> str:
    short = getattr(module, "_short_repr", None)
    return short() if callable(short) else type(module).__name__
