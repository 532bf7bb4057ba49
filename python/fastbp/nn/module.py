"""The layer protocol: :class:`Module` and :class:`Parameter`.

A module is a pair of hand-written passes, as in "Deep Learning from Scratch"
and CS231n: ``forward(x)`` computes the output and caches what the backward
pass needs; ``backward(dout)`` takes the gradient of the objective with respect
to that output and returns the gradient with respect to ``x``, adding (``+=``)
the gradients of its parameters into their ``.grad`` arrays. There is no tape:
the caller runs the backward passes in reverse order (``Sequential`` does it
for a chain).

Writing a layer takes four steps::

    class Scale(Module):
        def __init__(self, n, dtype=np.float32):
            super().__init__()
            self.dtype = np.dtype(dtype)
            self.weight = Parameter(np.ones(n, self.dtype))   # registered by assignment

        def forward(self, x):
            x = as_input(x, self.dtype, self)                 # dtype rule, one copy at most
            self._x = x                                        # cache for backward
            return ops.some_forward(x, self.weight.data)

        def backward(self, dout):
            x = self._require_cache("_x")
            return ops.some_backward_accumulate(dout, x, self.weight.data, self.weight.grad)

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers
it (as in PyTorch), so ``parameters()``, ``zero_grad()``, ``train()``/``eval()``,
``state_dict()`` and ``__repr__`` find it. Arrays that are state but not trained
(e.g. running statistics) are registered with :meth:`Module.register_buffer`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from fastbp import debug as _debug

__all__ = ["Module", "Parameter", "as_input", "float_dtype_for"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Bumped whenever any module registers or drops a parameter, child or buffer, so
# cached traversals (Module.named_parameters) know when to walk the tree again.
_structure_version = 0


def _structure_changed() -> None:
    global _structure_version
    _structure_version += 1


class Parameter:
    """A trainable array and its gradient.

    ``data`` is a C-contiguous float32/float64 array that optimizers update in
    place (``np.asarray(p)`` gives it, and NumPy arithmetic on ``p`` computes
    on it: ``p * 2`` is ``p.data * 2``); ``grad`` is a zero-initialised array
    of the same shape and dtype, allocated once, into which backward passes
    accumulate. ``name`` is the attribute name in the owning module
    (``"weight"``, ``"bias"``); the dotted path (``"0.weight"``) comes from
    :meth:`Module.named_parameters`.

    :meth:`zero_grad` only marks the gradient as zero: the array is filled on
    its next read through ``grad``, unless a backward first writes it whole
    (see :func:`write_grads`), which saves a pass over memory every step.
    """

    __slots__ = ("data", "_grad", "_zeroed", "name")

    def __init__(self, data: np.ndarray, name: Optional[str] = None):
        data = np.asarray(data)
        if data.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"Parameter data must be float32 or float64, got {data.dtype}")
        self.data: np.ndarray = np.array(data, order="C", copy=True)
        self._grad: np.ndarray = np.zeros_like(self.data)
        self._zeroed = False  # True: the gradient is zero, but _grad not yet filled
        self.name: Optional[str] = name

    @property
    def grad(self) -> np.ndarray:
        """The gradient array (always the same object), zero after :meth:`zero_grad`."""
        if self._zeroed:
            self._grad.fill(0)
            self._zeroed = False
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        """Copies ``value`` (broadcast to the shape) into the gradient array, which is kept."""
        if value is not self._grad:
            np.copyto(self._grad, value)
        self._zeroed = False

    @property
    def shape(self) -> Tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``data`` (float32 or float64)."""
        return self.data.dtype

    def zero_grad(self) -> None:
        """Sets ``grad`` to zero (the array object is kept; filled when next read)."""
        self._zeroed = True

    # --- NumPy interoperability: a Parameter reads as its ``data`` -------
    # ``np.asarray(p)`` is ``p.data`` (no copy); ufuncs and arithmetic
    # (``p * 2``, ``x @ p``, ``np.exp(p)``) compute on ``data`` and return new
    # ndarrays; ``p *= 0.5`` updates ``data`` in place. ``==`` stays identity,
    # so parameters can be found in lists and sets.

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        """``data`` (a view; a copy when ``copy`` is True or ``dtype`` differs)."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else np.asarray(self.data, dtype=dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Applies ``ufunc`` with every Parameter replaced by its ``data``."""
        inputs = tuple(x.data if isinstance(x, Parameter) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(x.data if isinstance(x, Parameter) else x
                                  for x in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __neg__(self) -> np.ndarray:
        return np.negative(self.data)

    def __pos__(self) -> np.ndarray:
        return np.positive(self.data)

    def __abs__(self) -> np.ndarray:
        return np.absolute(self.data)

    def __add__(self, other: Any) -> Any:
        return np.add(self, other)

    def __radd__(self, other: Any) -> Any:
        return np.add(other, self)

    def __sub__(self, other: Any) -> Any:
        return np.subtract(self, other)

    def __rsub__(self, other: Any) -> Any:
        return np.subtract(other, self)

    def __mul__(self, other: Any) -> Any:
        return np.multiply(self, other)

    def __rmul__(self, other: Any) -> Any:
        return np.multiply(other, self)

    def __truediv__(self, other: Any) -> Any:
        return np.true_divide(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return np.true_divide(other, self)

    def __pow__(self, other: Any) -> Any:
        return np.power(self, other)

    def __matmul__(self, other: Any) -> Any:
        return np.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return np.matmul(other, self)

    def __iadd__(self, other: Any) -> "Parameter":
        self.data += np.asarray(other)
        return self

    def __isub__(self, other: Any) -> "Parameter":
        self.data -= np.asarray(other)
        return self

    def __imul__(self, other: Any) -> "Parameter":
        self.data *= np.asarray(other)
        return self

    def __itruediv__(self, other: Any) -> "Parameter":
        self.data /= np.asarray(other)
        return self

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


def write_grads(params: Sequence[Optional[Parameter]], compute: Callable[..., Any]) -> Any:
    """Runs a backward's ``compute(grads, accumulate)`` and returns its result.

    ``grads`` holds the gradient array of each parameter (None for None), and
    ``compute`` must add its gradients into every one of them, or, when
    ``accumulate`` is False, write them whole instead: then all the gradients
    are zero since :meth:`Parameter.zero_grad` and their arrays were never
    filled, so neither the fill nor the read of the old zeros is needed. If
    ``compute`` raises, gradients it was to write whole read as zero again.
    """
    # Plain loops: this runs on every backward, and tiny layers take microseconds.
    accumulate = False
    for p in params:
        if p is not None and not p._zeroed:
            accumulate = True
            break
    grads = []
    for p in params:
        if p is None:
            grads.append(None)
        else:
            if accumulate and p._zeroed:
                p._grad.fill(0)
            p._zeroed = False
            grads.append(p._grad)
    try:
        return compute(grads, accumulate)
    except BaseException:
        if not accumulate:  # what a failed write left behind is still logically zero
            for p in params:
                if p is not None:
                    p._zeroed = True
        raise


def float_dtype_for(dtype: np.dtype) -> np.dtype:
    """The float dtype a parameter-free layer computes in for input of ``dtype``.

    float32 and float64 stay as they are; other real input follows NumPy's
    promotion with float32 (bool, int8/16, uint8/16, float16 -> float32;
    int32/64, uint32/64 -> float64; longdouble -> float64).
    """
    dtype = np.dtype(dtype)
    if dtype in _FLOAT_DTYPES:
        return dtype
    promoted = np.promote_types(dtype, np.float32)
    return promoted if promoted in _FLOAT_DTYPES else np.dtype(np.float64)


def as_input(x: Any, dtype: Optional[np.dtype], owner: Any, what: str = "input") -> np.ndarray:
    """``x`` as an ndarray of ``dtype`` (``None``: :func:`float_dtype_for` x's dtype).

    The module-level conversion rule: real-valued input (float, integer, bool
    as 0/1; arrays or nested lists) of another dtype is converted with one copy,
    as ``np.asarray(x, dtype)`` would; input already of the right dtype is used
    as is, without a copy. Complex, object, string, datetime and other
    non-numeric input raises ``TypeError`` naming ``owner``. (The low-level
    ``fastbp.ops`` functions are strict and never cast.)
    """
    if type(x) is np.ndarray:  # the common case first: the layers call this every pass
        dt = x.dtype
        if dt in _FLOAT_DTYPES and (dtype is None or dt == dtype):
            return x
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{_label(owner)}: {what} must be real-valued (float, int or bool), "
            f"got {type(x).__name__} of dtype {arr.dtype}"
        )
    target = float_dtype_for(arr.dtype) if dtype is None else np.dtype(dtype)
    return arr if arr.dtype == target else np.asarray(arr, dtype=target)


def _label(owner: Any) -> str:
    if isinstance(owner, str):
        return owner
    if isinstance(owner, Module):
        return owner._short_repr()
    return type(owner).__name__


class Module:
    """Base class of every layer. Subclasses implement ``forward`` and ``backward``.

    Attributes: ``training`` (True after construction; set by :meth:`train` and
    :meth:`eval` on the module and all its children).
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration ---------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                f"before assigning attributes (assigning {name!r})"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if not (name in params or name in modules or name in buffers
                or isinstance(value, (Parameter, Module))):
            object.__setattr__(self, name, value)  # plain state, e.g. a forward cache
            return
        if name in buffers and isinstance(value, np.ndarray):
            buffers[name] = value  # a buffer reassigned (e.g. new running statistics)
            object.__setattr__(self, name, value)
            return
        for registry in (params, modules, buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        _structure_changed()
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Registers a non-trained array (e.g. running statistics) as state:
        it is saved by :meth:`state_dict` but is not a parameter."""
        arr = np.require(array, requirements="C")  # keeps 0-d arrays 0-d
        object.__setattr__(self, name, arr)
        self._buffers[name] = arr
        _structure_changed()

    def add_module(self, name: str, module: "Module") -> None:
        """Registers ``module`` as child ``name`` (what ``self.name = module`` does)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # --- the two passes -------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """The layer's output for input ``x``; caches what ``backward`` needs.
        ``module(x)`` calls it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Takes the gradient with respect to the last forward's output, adds
        the parameters' gradients into their ``.grad`` and returns the gradient
        with respect to that forward's input."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _debug._check_finite:  # fastbp.set_debug(check_finite=True)
            return _debug.checked_call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # --- fusion: how a layer runs with the layers after it ----------------
    def fuse_next(self, following: Sequence["Module"]) -> Optional[Tuple["Module", int]]:
        """How this layer fuses with the layers right after it in a Sequential.

        ``following`` are the modules after this one. Returns ``(step, n)``: a
        module that runs this layer and ``following[:n]`` as one step, with
        bitwise the outputs and parameter gradients of running them one by one;
        or None (the default) when this layer does not fuse with them. A step
        reads the following layers' parameters and public settings and may call
        their public methods (:meth:`clear_cache`), never writes their
        attributes, and keeps its own forward caches.
        """
        return None

    def clear_cache(self) -> None:
        """Forgets what the last forward kept for backward, so that a backward
        before the next forward raises. A fused step calls it on the layers it
        runs, whose own caches would otherwise be stale."""

    def _require_cache(self, attr: str) -> Any:
        """The value forward cached in ``attr``; RuntimeError when forward has not run."""
        value = self.__dict__.get(attr)
        if value is None:
            raise RuntimeError(f"{self._short_repr()}: backward called before forward")
        return value

    # --- traversal ------------------------------------------------------
    def children(self) -> Iterator["Module"]:
        """The direct child modules, in registration order."""
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[Tuple[str, "Module"]]:
        """This module (name ``prefix``) and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> List[Tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs: own parameters in registration
        order (weight before bias), then each child's, in order. A parameter
        shared by two modules is listed once."""
        cache = self.__dict__.get("_named_parameters_cache")
        if cache is not None and cache[0] == _structure_version and cache[1] == prefix:
            return list(cache[2])
        out: List[Tuple[str, Parameter]] = []
        seen = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{mod_name}.{name}" if mod_name else name, p))
        object.__setattr__(self, "_named_parameters_cache", (_structure_version, prefix, out))
        return list(out)

    def parameters(self) -> List[Parameter]:
        """Every :class:`Parameter`, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> List[Tuple[str, np.ndarray]]:
        """``(dotted name, array)`` of every buffer (e.g. running statistics), in
        the order of :meth:`named_modules`."""
        return [
            (f"{mod_name}.{name}" if mod_name else name, buf)
            for mod_name, module in self.named_modules()
            for name, buf in module._buffers.items()
        ]

    def zero_grad(self) -> None:
        """Sets every parameter's gradient to zero, in place."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> "Module":
        """Sets ``training`` on this module and all children; returns self."""
        for _, module in self.named_modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """``train(False)``: layers such as dropout switch to inference behaviour."""
        return self.train(False)

    # --- state ----------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Ordered ``dotted name -> copy of the array`` for every parameter, then
        every buffer (``"0.weight"``, ``"0.bias"``, ... as PyTorch names them)."""
        state: "OrderedDict[str, np.ndarray]" = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data.copy()
        for name, buf in self.named_buffers():
            state[name] = buf.copy()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copies ``state`` into the parameters and buffers, in place.

        Strict, like PyTorch's default: the keys must be exactly those of
        :meth:`state_dict`, each value real-valued with the same shape (its
        dtype is converted to the parameter's). Everything is validated before
        anything is written, so on ``ValueError``/``TypeError``
        the model is unchanged. The arrays keep their identity, so an optimizer
        built on ``parameters()`` stays attached.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of name -> array, got {type(state).__name__}")
        targets: Dict[str, np.ndarray] = {n: p.data for n, p in self.named_parameters()}
        targets.update(self.named_buffers())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        staged = []
        for name, target in targets.items():
            value = as_input(state[name], target.dtype, f"load_state_dict[{name!r}]", "value")
            if value.shape != target.shape:
                raise ValueError(
                    f"load_state_dict for {type(self).__name__}: {name!r} has shape "
                    f"{value.shape}, the model expects {target.shape}"
                )
            staged.append((target, value))
        for target, value in staged:
            target[...] = value

    # --- printing -------------------------------------------------------
    def summary(self, input_shape: Sequence[int], *, show: bool = True) -> str:
        """Prints and returns a table of each layer's output shape and parameter
        count, with the total, for one sample of ``input_shape`` (without the
        batch dimension, e.g. ``(1, 28, 28)``). See :func:`fastbp.nn.summary.summary`."""
        from fastbp.nn.summary import summary

        return summary(self, input_shape, show=show)

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's one-line repr."""
        return ""

    def _short_repr(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        if not self._modules:
            return self._short_repr()
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        lines.append(")")
        return "\n".join(lines)
