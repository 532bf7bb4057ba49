"""Learning-rate schedules, with ``torch.optim.lr_scheduler``'s values.

A schedule wraps an optimizer and sets its ``lr`` once per epoch::

    opt = fastbp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = fastbp.schedules.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        ...train one epoch...
        sched.step()

(or pass ``schedule=sched`` to :func:`fastbp.fit`, which calls ``step()`` after
each epoch). The learning rate of epoch ``e`` is the closed form
:meth:`LRSchedule.lr_at` of ``e`` and the optimizer's learning rate at
construction (``base_lr``); PyTorch computes the same values recursively, so
the two agree to rounding.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any, Dict, List, Mapping

from fastbp.optim import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRSchedule", "StepLR"]


def _real(value: Any, name: str, owner: str, *, positive: bool = False) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a float, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{owner}: {name} must be finite and {'> 0' if positive else '>= 0'}, "
                         f"got {value!r}")
    return v


def _count(value: Any, name: str, owner: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be >= 1, got {value}")
    return int(value)


class LRSchedule:
    """Base class: subclasses implement :meth:`lr_at` and list their settings in
    ``_settings`` (saved by :meth:`state_dict`).

    Construction records ``base_lr = optimizer.lr`` and sets the epoch-0 rate;
    each :meth:`step` advances ``last_epoch`` by one and sets
    ``optimizer.lr = lr_at(last_epoch)``.
    """

    _settings: tuple = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a fastbp.optim "
                            f"Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (0, 1, ...)."""
        raise NotImplementedError

    def step(self) -> float:
        """Advances one epoch; sets and returns the new learning rate."""
        self.last_epoch += 1
        lr = self.lr_at(self.last_epoch)
        self.optimizer.lr = lr
        return lr

    def get_last_lr(self) -> List[float]:
        """``[optimizer.lr]``, a list as in PyTorch (one entry per parameter group)."""
        return [self.optimizer.lr]

    def state_dict(self) -> "OrderedDict[str, Any]":
        """``base_lr``, ``last_epoch`` and the schedule's settings (flat scalars)."""
        out: "OrderedDict[str, Any]" = OrderedDict(base_lr=self.base_lr,
                                                   last_epoch=self.last_epoch)
        for name in self._settings:
            out[name] = getattr(self, name)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict` output and sets the optimizer's learning rate."""
        name = type(self).__name__
        keys = ["base_lr", "last_epoch", *self._settings]
        if not isinstance(state, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a mapping, "
                            f"got {type(state).__name__}")
        missing = [k for k in keys if k not in state]
        unexpected = [k for k in state if k not in keys]
        if missing or unexpected:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        values: Dict[str, Any] = {k: getattr(state[k], "item", lambda v=state[k]: v)()
                                  for k in keys}
        self._check_settings(values)
        self.base_lr = _real(values["base_lr"], "base_lr", name)
        epoch = values["last_epoch"]
        if not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"{name}.load_state_dict: last_epoch must be an int >= 0, "
                             f"got {epoch!r}")
        for k in self._settings:
            setattr(self, k, values[k])
        self.last_epoch = int(epoch)
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def _check_settings(self, values: Mapping[str, Any]) -> None:
        """Validates settings from a state dict; raises like the constructor."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._settings)
        return f"{type(self).__name__}({args}, base_lr={self.base_lr!r}, " \
               f"last_epoch={self.last_epoch})"


class StepLR(LRSchedule):
    """Step decay (``torch.optim.lr_scheduler.StepLR``): the learning rate is
    multiplied by ``gamma`` every ``step_size`` epochs::

        lr(e) = base_lr * gamma ** (e // step_size)
    """

    _settings = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self._check_settings({"step_size": step_size, "gamma": gamma})
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def _check_settings(self, values: Mapping[str, Any]) -> None:
        _count(values["step_size"], "step_size", type(self).__name__)
        _real(values["gamma"], "gamma", type(self).__name__)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRSchedule):
    """Exponential decay (``torch.optim.lr_scheduler.ExponentialLR``):
    ``lr(e) = base_lr * gamma ** e``."""

    _settings = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self._check_settings({"gamma": gamma})
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def _check_settings(self, values: Mapping[str, Any]) -> None:
        _real(values["gamma"], "gamma", type(self).__name__)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRSchedule):
    """Cosine annealing without restarts (``torch.optim.lr_scheduler.CosineAnnealingLR``,
    SGDR's schedule): from ``base_lr`` at epoch 0 down to ``eta_min`` at ``T_max``::

        lr(e) = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2

    Past ``T_max`` the cosine continues (the rate rises again), as in PyTorch.
    """

    _settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self._check_settings({"T_max": T_max, "eta_min": eta_min})
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def _check_settings(self, values: Mapping[str, Any]) -> None:
        _count(values["T_max"], "T_max", type(self).__name__)
        _real(values["eta_min"], "eta_min", type(self).__name__)

    def lr_at(self, epoch: int) -> float:
        cos = math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + cos) / 2
