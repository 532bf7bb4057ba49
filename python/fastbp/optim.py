"""Optimizers: update parameters in place from their accumulated ``.grad``.

The loop is the PyTorch one::

    opt = SGD(model.parameters(), lr=1.0)
    for step in range(n):
        opt.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        opt.step()

Each step is one call into the core for all parameters
(``fastbp.ops.sgd_update_many``, ``adagrad_update_many``, ``rmsprop_update_many``,
``adam_update_many``), which makes one fused pass per parameter. The optimizers are
:class:`SGD` (momentum, Nesterov), :class:`AdaGrad`, :class:`RMSprop`,
:class:`Adam` and :class:`AdamW`, each with ``torch.optim``'s update formula,
defaults and state names (``momentum_buffer``, ``sum``, ``square_avg``,
``exp_avg``, ...); learning-rate schedules live in :mod:`fastbp.schedules`.

:class:`Optimizer` holds what every optimizer shares: the parameter list,
hyperparameters, per-parameter state arrays, ``zero_grad`` and a flat
``state_dict`` (``name -> float/bool/int`` for hyperparameters and the step
count, ``"state.<i>.<key>" -> array`` for per-parameter state), which maps
directly onto an ``.npz`` file. A new optimizer declares its hyperparameters,
the state arrays it keeps, and ``_update``: every parameter in one call into
the core. There is no per-parameter path.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Tuple

import numpy as np

from fastbp import ops
from fastbp.nn.module import Module, Parameter, as_input

__all__ = ["SGD", "AdaGrad", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer:
    """Base class. Subclasses set ``self.hyper`` (ordered name -> value), list
    their per-parameter state in :meth:`_state_keys` and implement :meth:`_update`
    (all parameters in one fused call into the core)."""

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

    def _update(self) -> None:
        """Updates every parameter in place, in one call into the core, from
        ``self.params``, ``self.state``, ``self.hyper`` and ``self.step_count + 1``."""
        raise NotImplementedError

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        """Checked and normalised hyperparameters; raises ValueError/TypeError."""
        return OrderedDict(hyper)

    # --- public API -----------------------------------------------------
    def step(self) -> None:
        """Updates every parameter in place from its ``.grad``."""
        self._update()
        self.step_count += 1

    def zero_grad(self) -> None:
        """Sets every parameter's ``.grad`` to zero, in place."""
        for p in self.params:
            p.zero_grad()

    def state_dict(self) -> "OrderedDict[str, Any]":
        """A flat ordered dict: ``"optimizer"`` (the class name, e.g. ``"Adam"``),
        the hyperparameters (Python scalars), ``"step"``
        (steps taken), and ``"state.<i>.<key>"`` -> a copy of parameter i's state
        array (for SGD: ``"state.0.momentum_buffer"``; none when momentum is 0).
        Parameters are identified by position in the list given to the
        constructor, as in PyTorch."""
        out: "OrderedDict[str, Any]" = OrderedDict(optimizer=type(self).__name__)
        out.update(self.hyper)
        out["step"] = self.step_count
        for i, state in enumerate(self.state):
            for key, arr in state.items():
                out[f"state.{i}.{key}"] = arr.copy()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores hyperparameters, step count and state arrays from
        :meth:`state_dict` output (scalars may come as 0-d arrays, as from
        ``np.load``). Everything is validated first: a state saved by another
        optimizer class (its ``"optimizer"`` entry), wrong or missing keys,
        wrong shapes or a state for a different number of parameters raise
        ``ValueError``/``TypeError`` and leave the optimizer unchanged."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a mapping, "
                            f"got {type(state_dict).__name__}")
        source = state_dict.get("optimizer", name)  # absent in states saved before it was named
        if isinstance(source, np.ndarray) and source.ndim == 0:
            source = source.item()
        if source != name:
            raise ValueError(f"{name}.load_state_dict: the state comes from {source}, not {name}; "
                             f"load it into a {source} (or start {name} afresh)")
        missing = [k for k in list(self.hyper) + ["step"] if k not in state_dict]
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}")
        hyper = self._validate({k: _scalar(state_dict[k], k, name) for k in self.hyper})
        step = _scalar(state_dict["step"], "step", name)
        if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
            raise ValueError(f"{name}.load_state_dict: step must be an int >= 0, got {step!r}")
        keys = self._state_keys(hyper)
        expected = {f"state.{i}.{k}": (i, k) for i in range(len(self.params)) for k in keys}
        known = set(self.hyper) | {"optimizer", "step"} | set(expected)
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

    @property
    def lr(self) -> float:
        """The learning rate (settable, e.g. by a schedule from :mod:`fastbp.schedules`)."""
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.hyper["lr"] = _nonneg_float(value, "lr", type(self).__name__)

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


def _bool(value: Any, name: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return bool(value)


def _unit_float(value: Any, name: str, owner: str, *, closed: bool = False) -> float:
    """A float in [0, 1) (``closed``: [0, 1])."""
    v = _nonneg_float(value, name, owner)
    if v > 1 or (v == 1 and not closed):
        upper = "1]" if closed else "1)"
        raise ValueError(f"{owner}: invalid {name} {value!r} (must be in [0, {upper})")
    return v


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight
    decay, with ``torch.optim.SGD``'s formulas (dampening 0), per element::

        g = grad + weight_decay * p
        if momentum != 0:
            buf = momentum * buf + g          (buf starts at 0, so the first buf is g)
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Each step is one call into the core (:func:`fastbp.ops.sgd_update_many`): one
    fused, in-place pass per parameter. ``weight_decay``
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
        nesterov = _bool(hyper["nesterov"], "nesterov", "SGD")
        if nesterov and momentum == 0:
            raise ValueError("SGD: Nesterov momentum requires momentum > 0")
        return OrderedDict(
            lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )

    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] != 0 else ()

    def _update(self) -> None:
        h = self.hyper
        momentum = h["momentum"]
        params = self.params
        bufs = [state.get("momentum_buffer") for state in self.state] if momentum != 0 else None
        ops.sgd_update_many([p.data for p in params], [p.grad for p in params], bufs,
                            lr=h["lr"], momentum=momentum, nesterov=h["nesterov"],
                            weight_decay=h["weight_decay"])



class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011) with ``torch.optim.Adagrad``'s formula and
    defaults (``lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10``); per element, at step t = 1, 2, ...::

        g = grad + weight_decay * p
        sum = sum + g * g                     (sum starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    Each parameter's effective step shrinks with its accumulated squared
    gradient. State: ``sum``. (The "Deep Learning from Scratch" version adds
    eps=1e-7 inside; PyTorch's, used here, adds 1e-10 after the square root.)
    ``Adagrad`` is an alias with PyTorch's spelling.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        hyper = self._validate({"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                "initial_accumulator_value": initial_accumulator_value,
                                "eps": eps})
        super().__init__(params, hyper)

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        n = type(self).__name__
        return OrderedDict((k, _nonneg_float(hyper[k], k, n)) for k in
                           ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"))

    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        return ("sum",)

    def _new_state(self, p: Parameter) -> Dict[str, np.ndarray]:
        return {"sum": np.full_like(p.data, self.hyper["initial_accumulator_value"])}


    def _update(self) -> None:
        h = self.hyper
        params = self.params
        ops.adagrad_update_many([p.data for p in params], [p.grad for p in params],
                                [state["sum"] for state in self.state],
                                step=self.step_count + 1, lr=h["lr"], lr_decay=h["lr_decay"],
                                eps=h["eps"], weight_decay=h["weight_decay"])


Adagrad = AdaGrad


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) with ``torch.optim.RMSprop``'s formula and
    defaults (``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False``); per element::

        g = grad + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        if centered:                               (subtract the squared mean gradient)
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            avg = sqrt(square_avg - grad_avg**2) + eps
        else:
            avg = sqrt(square_avg) + eps
        if momentum != 0: buf = momentum * buf + g / avg;  p = p - lr * buf
        else:             p = p - lr * g / avg

    State (all starting at zero): ``square_avg``, plus ``momentum_buffer``
    when momentum != 0 and ``grad_avg`` when centered.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        hyper = self._validate({"lr": lr, "alpha": alpha, "eps": eps,
                                "weight_decay": weight_decay, "momentum": momentum,
                                "centered": centered})
        super().__init__(params, hyper)

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        n = type(self).__name__
        return OrderedDict(
            lr=_nonneg_float(hyper["lr"], "lr", n),
            alpha=_unit_float(hyper["alpha"], "alpha", n, closed=True),
            eps=_nonneg_float(hyper["eps"], "eps", n),
            weight_decay=_nonneg_float(hyper["weight_decay"], "weight_decay", n),
            momentum=_nonneg_float(hyper["momentum"], "momentum", n),
            centered=_bool(hyper["centered"], "centered", n),
        )

    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        keys: Tuple[str, ...] = ("square_avg",)
        if hyper["momentum"] != 0:
            keys += ("momentum_buffer",)
        if hyper["centered"]:
            keys += ("grad_avg",)
        return keys


    def _update(self) -> None:
        h = self.hyper
        params, states = self.params, self.state
        ops.rmsprop_update_many(
            [p.data for p in params], [p.grad for p in params],
            [state["square_avg"] for state in states],
            [state.get("grad_avg") for state in states] if h["centered"] else None,
            [state.get("momentum_buffer") for state in states] if h["momentum"] != 0 else None,
            lr=h["lr"], alpha=h["alpha"], eps=h["eps"], weight_decay=h["weight_decay"],
            momentum=h["momentum"], centered=h["centered"],
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with ``torch.optim.Adam``'s formula and defaults
    (``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False``);
    per element, at step t = 1, 2, ...::

        g = grad + weight_decay * p               (L2 penalty folded into the gradient)
        m = beta1 * m + (1 - beta1) * g           (exp_avg)
        v = beta2 * v + (1 - beta2) * g * g       (exp_avg_sq)
        if amsgrad: v_max = max(v_max, v), used in place of v below
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    State (zeros at first): ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``. The state dict stores the betas flat, as ``beta1`` and
    ``beta2``; the step count t is the optimizer's ``"step"``.
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        n = type(self).__name__
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"{n}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        hyper = self._validate({"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps,
                                "weight_decay": weight_decay, "amsgrad": amsgrad})
        super().__init__(params, hyper)

    def _validate(self, hyper: Mapping[str, Any]) -> "OrderedDict[str, Any]":
        n = type(self).__name__
        return OrderedDict(
            lr=_nonneg_float(hyper["lr"], "lr", n),
            beta1=_unit_float(hyper["beta1"], "beta1", n),
            beta2=_unit_float(hyper["beta2"], "beta2", n),
            eps=_nonneg_float(hyper["eps"], "eps", n),
            weight_decay=_nonneg_float(hyper["weight_decay"], "weight_decay", n),
            amsgrad=_bool(hyper["amsgrad"], "amsgrad", n),
        )

    def _state_keys(self, hyper: Mapping[str, Any]) -> Tuple[str, ...]:
        keys: Tuple[str, ...] = ("exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if hyper["amsgrad"] else keys


    def _update(self) -> None:
        h = self.hyper
        params, states = self.params, self.state
        ops.adam_update_many(
            [p.data for p in params], [p.grad for p in params],
            [state["exp_avg"] for state in states], [state["exp_avg_sq"] for state in states],
            [state.get("max_exp_avg_sq") for state in states] if h["amsgrad"] else None,
            step=self.step_count + 1, lr=h["lr"], beta1=h["beta1"], beta2=h["beta2"],
            eps=h["eps"], weight_decay=h["weight_decay"], amsgrad=h["amsgrad"],
            decoupled_weight_decay=self._decoupled,
        )

    @property
    def betas(self) -> Tuple[float, float]:
        """``(beta1, beta2)``, as ``torch.optim.Adam`` names them."""
        return (self.hyper["beta1"], self.hyper["beta2"])


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, with
    ``torch.optim.AdamW``'s formula and defaults (``lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=1e-2, amsgrad=False``). The decay shrinks the
    parameter directly instead of entering the moment estimates::

        p = p * (1 - lr * weight_decay)
        then Adam's update of p with g = grad (no weight_decay term)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
