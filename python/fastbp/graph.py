"""Computational graphs by hand: scalar gates and a tiny autograd.

Two teaching tools, in pure Python because they work on single numbers:

* Gates with explicit passes, as in "Deep Learning from Scratch" chapter 5:
  :class:`MulLayer`, :class:`AddLayer` (``forward(x, y)``, ``backward(dout) ->
  (dx, dy)``) and :class:`SigmoidGate`. The apple example::

      apple, n, tax = 100, 2, 1.1
      mul_apple, mul_tax = MulLayer(), MulLayer()
      price = mul_tax.forward(mul_apple.forward(apple, n), tax)   # 220
      d_apple_price, d_tax = mul_tax.backward(1)                   # 1.1, 200
      d_apple, d_n = mul_apple.backward(d_apple_price)             # 2.2, 110

* :class:`Value`, a scalar that records how it was computed (micrograd style).
  ``backward()`` sorts the graph topologically and applies the chain rule in
  reverse; each operation's local derivative is written next to its forward
  formula. Gradients add up over every path (``+=``), which is why
  ``e = (a + b) * (b + 1)`` gives ``de/db = (b + 1) + (a + b) = 5`` at a=2, b=1.
  As in PyTorch, each ``backward()`` starts the intermediate nodes' gradients
  from zero while the leaves (the inputs) accumulate: a second ``e.backward()``
  gives ``b.grad == 10``; :meth:`Value.zero_grad` resets the leaves.
* :func:`draw`, the graph of a :class:`Value` expression as a figure: each node
  with its value and gradient, forward edges in one colour, backward in another.

The gates work on NumPy arrays too (element-wise), as the book's versions do.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, List, Optional, Set, Tuple, Union

__all__ = ["AddLayer", "MulLayer", "SigmoidGate", "Value", "draw"]


class MulLayer:
    """``out = x * y``; backward: ``dx = dout * y``, ``dy = dout * x``."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: Any, y: Any) -> Any:
        """``x * y``; keeps both inputs for the backward pass."""
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: Any) -> Tuple[Any, Any]:
        """``(dout * y, dout * x)``: each input's gradient is the other input times dout."""
        if self.x is None:
            raise RuntimeError("MulLayer: backward called before forward")
        return dout * self.y, dout * self.x  # swap the inputs


class AddLayer:
    """``out = x + y``; backward passes dout through to both: ``(dout, dout)``."""

    def forward(self, x: Any, y: Any) -> Any:
        """``x + y`` (nothing to keep: the local derivatives are 1)."""
        return x + y

    def backward(self, dout: Any) -> Tuple[Any, Any]:
        """``(dout, dout)``: an addition passes the gradient through to both inputs."""
        return dout * 1, dout * 1


class SigmoidGate:
    """``out = 1 / (1 + exp(-x))``; backward: ``dout * out * (1 - out)``."""

    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        """``1 / (1 + exp(-x))`` (a number or an array); keeps the output."""
        if isinstance(x, numbers.Real):
            self.out = _sigmoid(float(x))
        else:  # an ndarray: element-wise, overflow-free like the scalar version
            import numpy as np

            x = np.asarray(x, dtype=float)
            e = np.exp(-np.abs(x))
            self.out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.out

    def backward(self, dout: Any) -> Any:
        """``dout * out * (1 - out)``, from the output kept by forward."""
        if self.out is None:
            raise RuntimeError("SigmoidGate: backward called before forward")
        return dout * self.out * (1 - self.out)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # never overflows for x < 0
    return e / (1.0 + e)


Number = Union[int, float]


class Value:
    """A scalar node of a computational graph, with ``data`` and ``grad``.

    Supports ``+ - * / **`` (exponent an int or float constant), unary ``-``,
    the reflected forms (``2 * v``, ``1 - v``, ``1 / v``), ``exp()``,
    ``sigmoid()``, ``tanh()``, ``relu()``. ``backward()`` fills ``grad`` of
    every node that the output depends on (the output's own grad is 1).
    As in PyTorch, the leaves' grads accumulate across ``backward()`` calls,
    while the intermediate nodes' grads are recomputed from zero by each call;
    call :meth:`zero_grad` to reset the leaves too.
    """

    __slots__ = ("data", "grad", "_prev", "_backward", "_op", "label")

    def __init__(self, data: Number, _children: Tuple["Value", ...] = (), _op: str = "",
                 label: str = "") -> None:
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value: data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._prev = _children
        self._backward: Callable[[], None] = lambda: None
        self._op = _op
        self.label = label

    @staticmethod
    def _wrap(other: Any) -> "Value":
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            raise TypeError(f"Value: cannot combine with {type(other).__name__}")
        return Value(other)

    # --- binary operations ----------------------------------------------
    def __add__(self, other: Any) -> "Value":
        other = self._wrap(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad  # d(a + b)/da = 1
            other.grad += out.grad  # d(a + b)/db = 1

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> "Value":
        other = self._wrap(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad  # d(a * b)/da = b
            other.grad += self.data * out.grad  # d(a * b)/db = a

        out._backward = _backward
        return out

    def __pow__(self, exponent: Any) -> "Value":
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError("Value: only int or float exponents are supported, got "
                            f"{type(exponent).__name__}")
        k = exponent
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward() -> None:
            self.grad += k * self.data ** (k - 1) * out.grad  # d(a**k)/da = k a**(k-1)

        out._backward = _backward
        return out

    def __truediv__(self, other: Any) -> "Value":
        return self * self._wrap(other) ** -1  # a / b = a * b**-1

    def __neg__(self) -> "Value":
        return self * -1

    def __sub__(self, other: Any) -> "Value":
        return self + (-self._wrap(other))

    def __radd__(self, other: Any) -> "Value":
        return self + other

    def __rmul__(self, other: Any) -> "Value":
        return self * other

    def __rsub__(self, other: Any) -> "Value":
        return self._wrap(other) - self

    def __rtruediv__(self, other: Any) -> "Value":
        return self._wrap(other) / self

    # --- unary functions --------------------------------------------------
    def exp(self) -> "Value":
        """``e ** self``, a new node."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad  # d exp(a)/da = exp(a)

        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        """``1 / (1 + exp(-self))``, a new node."""
        s = _sigmoid(self.data)
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += s * (1 - s) * out.grad  # d sigma(a)/da = sigma (1 - sigma)

        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        """``tanh(self)``, a new node."""
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t * t) * out.grad  # d tanh(a)/da = 1 - tanh(a)**2

        out._backward = _backward
        return out

    def relu(self) -> "Value":
        """``max(self, 0)``, a new node."""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad  # 1 where a > 0, else 0

        out._backward = _backward
        return out

    # --- the backward pass ------------------------------------------------
    def _topological_order(self) -> List["Value"]:
        """Every node this one depends on, each after all of its inputs.
        Iterative, so deep graphs do not hit Python's recursion limit."""
        order: List[Value] = []
        visited: Set[int] = set()
        stack: List[Tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for child in node._prev:
                if id(child) not in visited:
                    stack.append((child, False))
        return order

    def backward(self) -> None:
        """Chain rule from this node back: the gradients of the intermediate
        nodes are set to 0 and this node's is seeded with 1, then each node's
        local derivatives run in reverse topological order.

        Leaves (nodes no operation produced) accumulate over calls, as
        PyTorch's leaf tensors do: for ``e = (a + b) * (b + 1)`` at a=2, b=1,
        two calls leave ``b.grad == 10``. Intermediate gradients hold this
        call's values only.
        """
        order = self._topological_order()
        for node in order:
            if node._prev:  # an intermediate node: this pass's gradient only
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Sets ``grad = 0`` on this node and everything it depends on."""
        for node in self._topological_order():
            node.grad = 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"


def draw(output: Any, path: Optional[str] = None) -> Any:
    """Draws the computational graph that produced ``output`` and returns the
    matplotlib ``Figure``; with ``path`` (``.png`` or ``.svg``) also writes it.

    ``output`` is a :class:`Value` (call ``backward()`` first to see the
    gradients) or the result of :func:`fastbp.examples.gates.gates`, whose
    ``"graph"`` is the apple example. Each node shows its name or operation,
    its forward value and its gradient; forward edges are blue, backward edges
    (the gradients flowing back) red. Needs matplotlib only (no Graphviz);
    pyplot's backend is left alone.
    """
    from fastbp.graph_draw import draw as _draw

    return _draw(output, path)
