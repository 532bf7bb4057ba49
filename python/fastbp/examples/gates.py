"""Backpropagation through computational-graph gates, the textbook examples.

Each example is a small graph of gates; its forward pass gives a value and its
backward pass, started with 1, gives the derivative of that value with respect
to every input (the chain rule, one local derivative per gate):

- the apple example ("Deep Learning from Scratch", ch. 5): 2 apples at 100,
  tax 1.1 -> price 220; d price / d apple = 2.2, / d apple_num = 110, / d tax = 200.
- apples and oranges: 2 apples at 100, 3 oranges at 150, tax 1.1 -> 715;
  gradients apple 2.2, apple_num 110, orange 3.3, orange_num 165, tax 650.
- ``f = (x + y) z`` at x=-2, y=5, z=-4 (CS231n) -> -12; df/dx = df/dy = z = -4,
  df/dz = x + y = 3.
- ``e = (a + b)(b + 1)`` at a=2, b=1 (colah's "Calculus on Computational
  Graphs"): 6; de/da = 2 and de/db = 5, because b reaches e along two paths
  whose contributions add (2 + 3).
- a sigmoid neuron ``f = sigmoid(w0 x0 + w1 x1 + w2)`` at w = (2, -3, -3),
  x = (-1, -2) (CS231n): the sum is 1, f = sigmoid(1) = 0.73; with
  ``s = f (1 - f) = 0.197`` the gradients are dx = (w0 s, w1 s) = (0.39, -0.59)
  and dw = (x0 s, x1 s, s) = (-0.20, -0.39, 0.20).
"""

from __future__ import annotations

import math
from typing import Any, Dict

from fastbp.examples._common import Stopwatch
from fastbp.graph import AddLayer, MulLayer, SigmoidGate, Value

_SIG1 = 1.0 / (1.0 + math.exp(-1.0))  # sigmoid(1)
_DSIG1 = _SIG1 * (1.0 - _SIG1)  # its derivative

#: The values the textbooks print, keyed like :func:`gates`'s ``values``.
EXPECTED: Dict[str, float] = {
    "apple.price": 220.0,
    "apple.d_apple": 2.2,
    "apple.d_apple_num": 110.0,
    "apple.d_tax": 200.0,
    "apple_orange.price": 715.0,
    "apple_orange.d_apple": 2.2,
    "apple_orange.d_apple_num": 110.0,
    "apple_orange.d_orange": 3.3,
    "apple_orange.d_orange_num": 165.0,
    "apple_orange.d_tax": 650.0,
    "f.value": -12.0,
    "f.dx": -4.0,
    "f.dy": -4.0,
    "f.dz": 3.0,
    "e.value": 6.0,
    "e.da": 2.0,
    "e.db": 5.0,
    "neuron.value": _SIG1,
    "neuron.dx0": 2.0 * _DSIG1,
    "neuron.dx1": -3.0 * _DSIG1,
    "neuron.dw0": -1.0 * _DSIG1,
    "neuron.dw1": -2.0 * _DSIG1,
    "neuron.dw2": _DSIG1,
}


def apple(apple: float = 100.0, apple_num: float = 2.0, tax: float = 1.1) -> Dict[str, float]:
    """price = apple * apple_num * tax, with two MulLayers."""
    mul_apple, mul_tax = MulLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    price = mul_tax.forward(apple_price, tax)
    d_apple_price, d_tax = mul_tax.backward(1.0)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    return {"price": price, "d_apple": d_apple, "d_apple_num": d_apple_num, "d_tax": d_tax}


def apple_orange(
    apple: float = 100.0,
    apple_num: float = 2.0,
    orange: float = 150.0,
    orange_num: float = 3.0,
    tax: float = 1.1,
) -> Dict[str, float]:
    """price = (apple * apple_num + orange * orange_num) * tax: Mul, Mul, Add, Mul."""
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    total = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(total, tax)
    d_total, d_tax = mul_tax.backward(1.0)
    d_apple_price, d_orange_price = add_fruit.backward(d_total)
    d_orange, d_orange_num = mul_orange.backward(d_orange_price)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    return {
        "price": price,
        "d_apple": d_apple,
        "d_apple_num": d_apple_num,
        "d_orange": d_orange,
        "d_orange_num": d_orange_num,
        "d_tax": d_tax,
    }


def add_mul(x: float = -2.0, y: float = 5.0, z: float = -4.0) -> Dict[str, float]:
    """f = (x + y) * z with an AddLayer and a MulLayer."""
    add, mul = AddLayer(), MulLayer()
    q = add.forward(x, y)
    f = mul.forward(q, z)
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    return {"value": f, "dx": dx, "dy": dy, "dz": dz}


def apple_graph(apple: float = 100.0, apple_num: float = 2.0, tax: float = 1.1) -> Value:
    """The apple example as a :class:`Value` graph, after ``backward()``: the
    price node, for :func:`fastbp.graph.draw`."""
    a, n = Value(apple, label="apple"), Value(apple_num, label="apple_num")
    t = Value(tax, label="tax")
    apple_price = a * n
    apple_price.label = "apple_price"
    price = apple_price * t
    price.label = "price"
    price.backward()
    return price


def two_paths(a: float = 2.0, b: float = 1.0) -> Dict[str, float]:
    """e = (a + b) * (b + 1) with the scalar autograd Value: b's two paths add."""
    av, bv = Value(a), Value(b)
    e = (av + bv) * (bv + 1)
    e.backward()
    return {"value": e.data, "da": av.grad, "db": bv.grad}


def sigmoid_neuron(
    w0: float = 2.0, w1: float = -3.0, w2: float = -3.0, x0: float = -1.0, x1: float = -2.0
) -> Dict[str, float]:
    """f = sigmoid(w0 x0 + w1 x1 + w2) with MulLayers, AddLayers and a SigmoidGate."""
    mul0, mul1, add01, add_bias, sig = MulLayer(), MulLayer(), AddLayer(), AddLayer(), SigmoidGate()
    dot = add_bias.forward(add01.forward(mul0.forward(w0, x0), mul1.forward(w1, x1)), w2)
    f = sig.forward(dot)
    d_dot = sig.backward(1.0)
    d_sum01, dw2 = add_bias.backward(d_dot)
    d_p0, d_p1 = add01.backward(d_sum01)
    dw0, dx0 = mul0.backward(d_p0)
    dw1, dx1 = mul1.backward(d_p1)
    return {"value": f, "dx0": dx0, "dx1": dx1, "dw0": dw0, "dw1": dw1, "dw2": dw2}


def gates() -> Dict[str, Any]:
    """Forward and backward through computational-graph gates: the textbook examples.

    Returns a dict: ``values`` (computed, keyed ``"apple.price"`` ... like
    :data:`EXPECTED`), ``expected``, ``ok`` (every value within 1e-9 of the
    textbook), ``loss_history`` (empty: nothing is trained), ``graph`` (the
    apple example as a :class:`Value` graph, which ``fastbp run gates --plot``
    draws), ``time_s``, ``summary``.
    """
    with Stopwatch() as sw:
        values: Dict[str, float] = {}
        for prefix, fn in (
            ("apple", apple),
            ("apple_orange", apple_orange),
            ("f", add_mul),
            ("e", two_paths),
            ("neuron", sigmoid_neuron),
        ):
            for key, val in fn().items():
                values[f"{prefix}.{key}"] = float(val)
    matches = {
        k: math.isclose(values[k], v, rel_tol=1e-9, abs_tol=1e-12) for k, v in EXPECTED.items()
    }
    n_ok = sum(matches.values())
    return {
        "name": "gates",
        "values": values,
        "expected": dict(EXPECTED),
        "ok": n_ok == len(EXPECTED),
        "loss_history": [],
        "graph": apple_graph(),
        "time_s": sw.seconds,
        "summary": (
            f"apple {values['apple.price']:.4g}, de/db {values['e.db']:.4g}: "
            f"{n_ok}/{len(EXPECTED)} values as in the textbooks"
        ),
    }
