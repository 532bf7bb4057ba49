"""Optimizers: update parameters in place from their accumulated ``.grad``.

The loop is the PyTorch one::

    opt = SGD(model.parameters(), lr=1.0)
    for step in range(n):
        opt.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        opt.step()

Each parameter's update is one fused C++ pass (``fastbp.ops.sgd_update``).

:class:`Optimizer` holds what every optimizer shares: the parameter list,
hyperparameters, per-parameter state arrays, ``zero_grad`` and a flat
``state_dict`` (``name -> float/bool/int`` for hyperparameters and the step
count, ``"state.<i>.<key>" -> array`` for per-parameter state), which maps
directly onto an ``.npz`` file. A new optimizer (Adam, RMSprop, ...) declares
its hyperparameters, the state arrays it keeps, and ``_update``.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Tuple

import numpy as np

from fastbp import ops
from fastbp.nn.module import Module, Parameter, as_input

__all__ = ["SGD", "Optimizer"]


class Optimizer:
    """Base class. Subclasses set ``self.hyper`` (ordered name -> value), list
    their per-parameter state in :meth:`_state_keys` and implement :meth:`_update`."""

    def __init__(self, params: Iterable[Parameter], hyper: Dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Module):
            raise TypeError(f"{name}: params must be an iterable of Parameter; "
                            f"pass model.parameters(), not the model")
        if isinstance(params, Parameter):
            raise TypeError(f"{name}: params must be an iterable of Parameter, "
                            f"got a single Parameter; wrap it in a list")
        try:
            plist: List[Parameter] = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Parameter, "
                            f"got {type(params).__name__}") from None
        if not plist:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(plist):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params[{i}] must be a Parameter, got {type(p).__name__}")
        if len({id(p) for p in plist}) != len(plist):
            raise ValueError(f"{name}: a parameter appears more than once in params")
        self.params = plist
        self.hyper: "OrderedDict[str, Any]" = OrderedDict(hyper)
        self.step_count = 0
        self.state: List[Dict[str, np.ndarray]] = [self._new_state(p) for p in plist]

    # --- subclass hooks -------------------------------------------------
    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        """Names of the per-parameter arrays kept under ``hyper``."""
        return ()

    def _update(self, p: Parameter, state: Dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        """Checked and normalised hyperparameters; raises ValueError/TypeError."""
        return OrderedDict(hyper)

    # --- public API -----------------------------------------------------
    def step(self) -> None:
        """Updates every parameter in place from its ``.grad``."""
        for p, state in zip(self.params, self.state):
            self._update(p, state)
        self.step_count += 1

    def zero_grad(self) -> None:
        """Sets every parameter's ``.grad`` to zero, in place."""
        for p in self.params:
            p.grad.fill(0)

    def state_dict(self) -> "OrderedDict[str, Any]":
        """A flat ordered dict: the hyperparameters (Python scalars), ``"step"``
        (steps taken), and ``"state.<i>.<key>"`` -> a copy of parameter i's state
        array (for SGD: ``"state.0.momentum_buffer"``; none when momentum is 0).
        Parameters are identified by position in the list given to the
        constructor, as in PyTorch."""
        out: "OrderedDict[str, Any]" = OrderedDict(self.hyper)
        out["step"] = self.step_count
        for i, state in enumerate(self.state):
            for key, arr in state.items():
                out[f"state.{i}.{key}"] = arr.copy()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores hyperparameters, step count and state arrays from
        :meth:`state_dict` output (scalars may come as 0-d arrays, as from
        ``np.load``). Everything is validated first: wrong or missing keys,
        wrong shapes or a state for a different number of parameters raise
        ``ValueError``/``TypeError`` and leave the optimizer unchanged."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a mapping, "
                            f"got {type(state_dict).__name__}")
        missing = [k for k in list(self.hyper) + ["step"] if k not in state_dict]
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}")
        hyper = self._validate({k: _scalar(state_dict[k], k, name) for k in self.hyper})
        step = _scalar(state_dict["step"], "step", name)
        if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
            raise ValueError(f"{name}.load_state_dict: step must be an int >= 0, got {step!r}")
        keys = self._state_keys(hyper)
        expected = {f"state.{i}.{k}": (i, k) for i in range(len(self.params)) for k in keys}
        known = set(self.hyper) | {"step"} | set(expected)
        unexpected = [k for k in state_dict if k not in known]
        missing = [k for k in expected if k not in state_dict]
        if unexpected or missing:
            raise ValueError(
                f"{name}.load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                f"(this optimizer has {len(self.params)} parameters)"
            )
        new_state: List[Dict[str, np.ndarray]] = [{} for _ in self.params]
        for key, (i, k) in expected.items():
            p = self.params[i]
            arr = as_input(state_dict[key], p.data.dtype, f"{name}.load_state_dict[{key!r}]",
                           "value")
            if arr.shape != p.data.shape:
                raise ValueError(f"{name}.load_state_dict: {key!r} has shape {arr.shape}, "
                                 f"parameter {i} has shape {p.data.shape}")
            new_state[i][k] = np.array(arr, dtype=p.data.dtype, order="C", copy=True)
        self.hyper = hyper
        self.step_count = int(step)
        self.state = new_state

    def _new_state(self, p: Parameter) -> Dict[str, np.ndarray]:
        return {k: np.zeros_like(p.data) for k in self._state_keys(self.hyper)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


def _scalar(value: Any, key: str, owner: str) -> Any:
    """A Python scalar from a scalar or 0-d array (as ``np.load`` returns them)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(f"{owner}.load_state_dict: {key!r} must be a scalar, "
                             f"got an array of shape {value.shape}")
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, numbers.Real)):
        raise TypeError(f"{owner}.load_state_dict: {key!r} must be a number, "
                        f"got {type(value).__name__}")
    return value


def _nonneg_float(value: Any, name: str, owner: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a float, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{owner}: invalid {name} {value!r} (must be finite and >= 0)")
    return v


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight
    decay, with ``torch.optim.SGD``'s formulas (dampening 0), per element::

        g = grad + weight_decay * p
        if momentum != 0:
            buf = momentum * buf + g          (buf starts at 0, so the first buf is g)
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    The update is one fused, in-place C++ pass per parameter. ``weight_decay``
    adds ``wd * p`` to the gradient, which for plain SGD is the same as an L2
    penalty ``0.5 * wd * |p|^2`` on every parameter, biases included (unlike
    :func:`fastbp.losses.l2_penalty`, which skips biases).
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        hyper = self._validate(
            {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}
        )
        super().__init__(params, hyper)

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        lr = _nonneg_float(hyper["lr"], "lr", "SGD")
        momentum = _nonneg_float(hyper["momentum"], "momentum", "SGD")
        weight_decay = _nonneg_float(hyper["weight_decay"], "weight_decay", "SGD")
        nesterov = hyper["nesterov"]
        if not isinstance(nesterov, (bool, np.bool_)) and nesterov not in (0, 1):
            raise TypeError(f"SGD: nesterov must be a bool, got {nesterov!r}")
        nesterov = bool(nesterov)
        if nesterov and momentum == 0:
            raise ValueError("SGD: Nesterov momentum requires momentum > 0")
        return OrderedDict(
            lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )

    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] != 0 else ()

    def _update(self, p: Parameter, state: Dict[str, np.ndarray]) -> None:
        h = self.hyper
        ops.sgd_update(
            p.data,
            p.grad,
            state.get("momentum_buffer"),
            lr=h["lr"],
            momentum=h["momentum"],
            nesterov=h["nesterov"],
            weight_decay=h["weight_decay"],
        )

    @property
    def lr(self) -> float:
        """The learning rate (settable, e.g. by a schedule)."""
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.hyper["lr"] = _nonneg_float(value, "lr", "SGD")
