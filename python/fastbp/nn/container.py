"""Sequential: a chain of modules, forward in order and backward in reverse."""

from __future__ import annotations

from typing import Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from fastbp import debug as _debug
from fastbp.nn import module as _module
from fastbp.nn.module import Module

__all__ = ["Sequential"]


def fused_steps(modules: Iterable[Module]) -> List[Module]:
    """``modules`` in order, each run of them that a module offers to fuse with
    the ones after it (:meth:`Module.fuse_next`) replaced by that one step.
    Modules are asked from the first on, so the earlier layer's offer wins (a
    ReLU between a Linear and a MaxPool2d fuses with the Linear)."""
    modules = list(modules)
    steps: List[Module] = []
    i = 0
    while i < len(modules):
        offer = modules[i].fuse_next(modules[i + 1:])
        if offer is None:
            steps.append(modules[i])
            i += 1
        else:
            step, taken = offer
            steps.append(step)
            i += 1 + taken
    return steps


class Sequential(Module):
    """``Sequential(m0, m1, ...)``: ``forward`` runs ``m0, m1, ...`` in order,
    ``backward`` runs their backward passes in reverse and returns dx.

    Children are named ``"0"``, ``"1"``, ... so parameters and state-dict keys
    read ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, as in PyTorch. Indexing
    (``net[0]``, ``net[-1]``, slices give a new Sequential sharing the modules),
    ``len(net)`` and iteration work as on a list.

    Each module is asked how it fuses with the ones after it
    (:meth:`Module.fuse_next`); adjacent ``Linear`` + ``ReLU``, ``ReLU`` +
    ``MaxPool2d`` and ``Conv2d`` + ``ReLU`` + ``MaxPool2d`` run as one fused step
    each, with bitwise the same outputs and gradients; with
    ``fastbp.set_debug(check_finite=True)`` every module runs on its own.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {i} must be a Module, got {type(module).__name__}"
                )
            self.add_module(str(i), module)

    def append(self, module: Module) -> "Sequential":
        """Adds ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x) -> np.ndarray:
        # The debug checks name single modules, so they run the chain unfused.
        steps = tuple(self._modules.values()) if _debug._check_finite else self._fused_steps()
        self.__dict__["_last_steps"] = steps  # backward retraces what forward ran
        for step in steps:
            x = step(x)
        return x

    def backward(self, dout) -> Optional[np.ndarray]:
        """Returns dx, or None when the first module was built with
        ``input_grad=False`` (then no module before it may need a gradient)."""
        steps = self.__dict__.get("_last_steps") or tuple(self._modules.values())
        if _debug._check_finite:  # fastbp.set_debug(check_finite=True)
            return _debug.checked_sequential_backward(self, steps, dout)
        for step in reversed(steps):
            if dout is None:
                raise self._no_input_grad_error(step)
            dout = step.backward(dout)
        return dout

    def _fused_steps(self) -> Tuple[Module, ...]:
        """The children as forward runs them, each fused run of them merged into
        one step; rebuilt only when some module's structure changed."""
        cached = self.__dict__.get("_fused_cache")
        if cached is None or cached[0] != _module._structure_version:
            cached = (_module._structure_version, tuple(fused_steps(self._modules.values())))
            self.__dict__["_fused_cache"] = cached
        return cached[1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: Union[int, slice]) -> Union[Module, "Sequential"]:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def _short_repr(self) -> str:
        return f"Sequential(<{len(self)} modules>)"

    def _no_input_grad_error(self, waiting: Module) -> ValueError:
        """The error for a module whose successor returned no dx (input_grad=False)."""
        return ValueError(
            f"{self._short_repr()}.backward: {waiting._short_repr()} needs a gradient, but the "
            f"module after it was built with input_grad=False; only the first module may be"
        )
