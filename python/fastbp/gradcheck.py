"""Numerical gradient check: analytic backward passes against central differences.

For a random ``dout`` of the output's shape, the scalar ``L = sum(out * dout)``
has gradient ``backward(dout)`` with respect to each input, and with respect to
each parameter the ``.grad`` that backward accumulates. Each element of every
input and parameter is nudged by ``+-eps`` and ``(L(+) - L(-)) / (2 eps)`` is
compared with the analytic value: ``|analytic - numerical| <= atol + rtol *
|numerical|`` everywhere, as ``numpy.allclose`` does.

Three kinds of callee are accepted:

* a :class:`fastbp.nn.Module` (or any object with ``forward(*inputs)`` and
  ``backward(dout)``, such as the graph gates ``MulLayer``/``AddLayer``):
  ``backward(dout)`` returns the input gradient (a tuple of them for several
  inputs; None for a first layer built with ``input_grad=False``, whose input
  is then not checked); objects with ``parameters()`` also have every
  Parameter checked;
* a plain function ``f(*inputs) -> out`` together with ``backward=``, a callable
  ``backward(dout) -> grad`` (or tuple of grads, one per input) that is called
  right after ``f`` at the unperturbed inputs. For a loss, for example::

      loss = SoftmaxCrossEntropy()
      gradcheck(lambda s: loss(s, labels), scores, backward=lambda d: d * loss.backward())

The check runs in float64: inputs are copied to float64 and a module's
parameters must already be float64 (build it with ``dtype=np.float64``).
Parameter values and gradients are restored afterwards, even on failure.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one.

    A subclass of ``AssertionError`` because a failed gradient check is a
    failed test: pytest reports it as an assertion with the message intact, and
    ``assert gradcheck(...)`` reads the same whether it returns or raises.
    """


def gradcheck(
    f_or_module: Any,
    inputs: Union[np.ndarray, Sequence[np.ndarray]],
    *,
    backward: Optional[Callable[[Any], Any]] = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> bool:
    """Checks the gradients of ``f_or_module`` at ``inputs``; returns True or raises.

    Args:
        f_or_module: a Module / object with ``forward`` and ``backward``, or a function.
        inputs: an array or a tuple of arrays (copied to float64; the caller's
            arrays are never modified).
        backward: required for a plain function, not allowed for a module.
        eps: the central-difference step. The truncation error is O(eps**2) and
            the rounding error O(1e-16 |L| / eps): 1e-6 balances them at ~1e-10.
        rtol, atol: tolerances of the element-wise comparison; loose enough
            for rounding (~1e-9 relative), far tighter than any real bug.
        seed: seed of the random ``dout``.

    Raises:
        GradcheckError: naming the tensor (``input 0`` or ``parameter '0.weight'``),
            the worst index and both values.
        TypeError, ValueError: for unusable arguments (float32 module, wrong
            number of gradients, mismatched shapes).
    """
    single = isinstance(inputs, np.ndarray) or np.isscalar(inputs)
    raw = (inputs,) if single else tuple(inputs)
    if not raw:
        raise ValueError("gradcheck: inputs is empty")
    xs: List[np.ndarray] = []
    for i, x in enumerate(raw):
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"gradcheck: input {i} must be real-valued, got dtype {arr.dtype}")
        xs.append(np.array(arr, dtype=np.float64, copy=True))

    is_layer = hasattr(f_or_module, "forward") and hasattr(f_or_module, "backward")
    if is_layer:
        if backward is not None:
            raise TypeError("gradcheck: backward= is only for plain functions; "
                            "a module's own backward is checked")
        forward_fn, backward_fn = f_or_module.forward, f_or_module.backward
        named_params = _named_parameters(f_or_module)
    elif callable(f_or_module):
        if backward is None:
            raise TypeError("gradcheck: a plain function needs backward=, a callable "
                            "dout -> grad (or a tuple of grads, one per input)")
        forward_fn, backward_fn, named_params = f_or_module, backward, []
    else:
        raise TypeError(f"gradcheck: expected a module or a function, got "
                        f"{type(f_or_module).__name__}")
    for name, p in named_params:
        if p.data.dtype != np.float64:
            raise TypeError(f"gradcheck: parameter {name!r} is {p.data.dtype}; central "
                            f"differences need float64 (build the module with dtype=np.float64)")

    saved_grads = [p.grad.copy() for _, p in named_params]
    try:
        for _, p in named_params:
            p.grad.fill(0)
        out = np.asarray(forward_fn(*xs), dtype=np.float64)
        rng = np.random.default_rng(seed)
        dout = rng.standard_normal(out.shape)
        grads = backward_fn(float(dout) if dout.ndim == 0 else dout)
        analytic = _as_grad_tuple(grads, len(xs))
        checks: List[Tuple[str, np.ndarray, np.ndarray]] = []
        for i, (x, g) in enumerate(zip(xs, analytic)):
            if g is None:  # a first layer built with input_grad=False: nothing to check
                continue
            checks.append((f"input {i}", x, _as_grad(g, x.shape, f"input {i}")))
        for name, p in named_params:
            checks.append((f"parameter {name!r}", p.data, p.grad.astype(np.float64)))

        def objective() -> float:
            return float(np.sum(np.asarray(forward_fn(*xs), dtype=np.float64) * dout))

        for label, array, grad in checks:
            numerical = _central_differences(objective, array, eps)
            _compare(label, array.shape, grad, numerical, rtol, atol)
    finally:
        for (_, p), g in zip(named_params, saved_grads):
            p.grad[...] = g
    return True


def _named_parameters(obj: Any) -> List[Tuple[str, Any]]:
    if hasattr(obj, "named_parameters"):
        return list(obj.named_parameters())
    if hasattr(obj, "parameters"):
        return [(str(i), p) for i, p in enumerate(obj.parameters())]
    return []


def _as_grad_tuple(grads: Any, n: int) -> Tuple[Any, ...]:
    if n == 1 and not isinstance(grads, tuple):
        return (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != n:
        got = len(grads) if isinstance(grads, (tuple, list)) else 1
        raise ValueError(f"gradcheck: backward must return {n} gradient(s), one per input, "
                         f"got {got}")
    return tuple(grads)


def _as_grad(g: Any, shape: Tuple[int, ...], label: str) -> np.ndarray:
    arr = np.asarray(g, dtype=np.float64)
    if arr.shape != shape:
        if arr.size == int(np.prod(shape)) and arr.size == 1:
            return arr.reshape(shape)
        raise ValueError(f"gradcheck: gradient of {label} has shape {arr.shape}, "
                         f"the input has shape {shape}")
    return arr


def _central_differences(objective: Callable[[], float], array: np.ndarray,
                         eps: float) -> np.ndarray:
    """d objective / d array, nudging ``array`` in place and restoring every element."""
    numerical = np.zeros(array.shape)
    if not array.flags.c_contiguous:
        raise ValueError("gradcheck: parameters must be C-contiguous arrays")
    flat = array.reshape(-1)  # a view of the C-contiguous array
    out = numerical.reshape(-1)
    for j in range(flat.size):
        orig = flat[j]
        try:
            flat[j] = orig + eps
            plus = objective()
            flat[j] = orig - eps
            minus = objective()
        finally:
            flat[j] = orig
        out[j] = (plus - minus) / (2 * eps)
    return numerical


def _compare(label: str, shape: Tuple[int, ...], analytic: np.ndarray, numerical: np.ndarray,
             rtol: float, atol: float) -> None:
    if analytic.size == 0:
        return
    err = np.abs(analytic - numerical)
    excess = err - (atol + rtol * np.abs(numerical))
    excess = np.where(np.isfinite(analytic) & np.isfinite(numerical), excess, np.inf)
    worst = int(np.argmax(excess))
    if excess.reshape(-1)[worst] <= 0:
        return
    index = np.unravel_index(worst, shape) if shape else ()
    a, n = analytic.reshape(-1)[worst], numerical.reshape(-1)[worst]
    rel = abs(a - n) / max(abs(a), abs(n), 1e-300)
    bad = int(np.count_nonzero(excess > 0))
    raise GradcheckError(
        f"gradcheck failed for {label} (shape {shape}) at index {tuple(int(i) for i in index)}: "
        f"analytic {a:.10g}, numerical {n:.10g} (abs error {abs(a - n):.3g}, "
        f"relative {rel:.3g}; rtol={rtol}, atol={atol}); {bad} of {analytic.size} "
        f"elements out of tolerance"
    )
