"""fastbp.graph: the textbook gate examples and the scalar autograd, by hand and numerically."""

import math

import numpy as np
import pytest

import fastbp
from fastbp.gradcheck import gradcheck
from fastbp.graph import AddLayer, MulLayer, SigmoidGate, Value


def test_apple():
    # "Deep Learning from Scratch" 5.4.1.
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple, mul_tax = MulLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    price = mul_tax.forward(apple_price, tax)
    assert price == pytest.approx(220)
    d_apple_price, d_tax = mul_tax.backward(1)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    assert (d_apple, d_apple_num, d_tax) == pytest.approx((2.2, 110, 200))


def test_apple_orange():
    # "Deep Learning from Scratch" 5.4.2.
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    total = add.forward(apple_price, orange_price)
    price = mul_tax.forward(total, tax)
    assert price == pytest.approx(715)
    d_total, d_tax = mul_tax.backward(1)
    d_apple_price, d_orange_price = add.backward(d_total)
    d_orange, d_orange_num = mul_orange.backward(d_orange_price)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    assert (d_apple_num, d_apple, d_orange, d_orange_num, d_tax) == pytest.approx(
        (110, 2.2, 3.3, 165, 650))


def test_cs231n_circuit_with_gates():
    # f = (x + y) z at x=-2, y=5, z=-4 (CS231n "Backpropagation, intuitions").
    add, mul = AddLayer(), MulLayer()
    q = add.forward(-2, 5)
    f = mul.forward(q, -4)
    assert f == -12
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    assert (dx, dy, dz) == (-4, -4, 3)


def test_cs231n_circuit_with_values():
    x, y, z = Value(-2), Value(5), Value(-4)
    f = (x + y) * z
    f.backward()
    assert f.data == -12
    assert (x.grad, y.grad, z.grad) == (-4, -4, 3)


def test_gradients_sum_over_paths():
    a, b = Value(2.0), Value(1.0)
    c = a + b
    d = b + 1
    e = c * d
    e.backward()
    assert e.data == 6
    assert (a.grad, b.grad) == (2, 5)
    # A node used twice: y = x * x, dy/dx = 2x.
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6


def test_sigmoid_neuron():
    # CS231n: f(w, x) = sigmoid(w0 x0 + w1 x1 + w2), w = [2, -3, -3], x = [-1, -2].
    w0, x0, w1, x1, w2 = Value(2.0), Value(-1.0), Value(-3.0), Value(-2.0), Value(-3.0)
    f = (w0 * x0 + w1 * x1 + w2).sigmoid()
    f.backward()
    assert f.data == pytest.approx(0.7310585786, rel=1e-9)
    assert (x0.grad, w0.grad, x1.grad, w1.grad, w2.grad) == pytest.approx(
        (0.3932238664, -0.1966119332, -0.5898357996, -0.3932238664, 0.1966119332), rel=1e-9)
    # The same neuron written from primitive ops, 1 / (1 + exp(-z)), gives the same grads.
    v = [Value(t.data) for t in (w0, x0, w1, x1, w2)]
    g = 1 / (1 + (-(v[0] * v[1] + v[2] * v[3] + v[4])).exp())
    g.backward()
    assert g.data == pytest.approx(f.data, rel=1e-15)
    assert [t.grad for t in v] == pytest.approx([w0.grad, x0.grad, w1.grad, x1.grad, w2.grad],
                                                rel=1e-12)


def numerical_grads(fn, values, eps=1e-6):
    out = []
    for i in range(len(values)):
        plus = list(values)
        minus = list(values)
        plus[i] += eps
        minus[i] -= eps
        out.append((fn(*plus) - fn(*minus)) / (2 * eps))
    return out


EXPRESSIONS = [
    (lambda a, b: a - b, lambda a, b: a - b),
    (lambda a, b: a / b, lambda a, b: a / b),
    (lambda a, b: 3 - a * b, lambda a, b: 3 - a * b),
    (lambda a, b: 2 / a + b * 4, lambda a, b: 2 / a + b * 4),
    (lambda a, b: a**3 + b**-2 + a**0.5, lambda a, b: a**3 + b**-2 + a**0.5),
    (lambda a, b: (a * b).exp(), lambda a, b: math.exp(a * b)),
    (lambda a, b: (a - b).tanh() * b, lambda a, b: math.tanh(a - b) * b),
    (lambda a, b: (a * b).sigmoid(), lambda a, b: 1 / (1 + math.exp(-a * b))),
    (lambda a, b: (a - b).relu() + (b - a).relu() * 2,
     lambda a, b: max(a - b, 0) + 2 * max(b - a, 0)),
    (lambda a, b: -a + 1 + (a + b) * (b + 1), lambda a, b: -a + 1 + (a + b) * (b + 1)),
]


@pytest.mark.parametrize("expr,plain", EXPRESSIONS)
@pytest.mark.parametrize("point", [(1.3, 0.7), (2.0, -1.5)])
def test_value_matches_numerical(expr, plain, point):
    a, b = Value(point[0]), Value(point[1])
    out = expr(a, b)
    out.backward()
    assert out.data == pytest.approx(plain(*point), rel=1e-12)
    assert [a.grad, b.grad] == pytest.approx(numerical_grads(plain, list(point)), rel=1e-6,
                                             abs=1e-8)


def test_value_errors_and_repr():
    with pytest.raises(TypeError):
        Value("1")
    with pytest.raises(TypeError):
        Value(1.0) ** Value(2.0)
    with pytest.raises(TypeError):
        Value(1.0) + "x"
    v = Value(2.0, label="w")
    assert repr(v) == "Value(data=2, grad=0, label='w')"


def test_zero_grad_and_deep_graph():
    x = Value(0.5)
    y = x
    for _ in range(5000):  # deeper than Python's recursion limit
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-9)
    y.zero_grad()
    assert x.grad == 0


def test_gates_gradcheck():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    assert gradcheck(MulLayer(), (x, y))
    assert gradcheck(AddLayer(), (x, y))
    assert gradcheck(SigmoidGate(), x)


def test_sigmoid_gate():
    g = SigmoidGate()
    assert g.forward(0.0) == 0.5
    assert g.backward(1.0) == 0.25
    assert g.forward(-1000.0) == 0.0  # no overflow
    arr = g.forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(arr, [0.0, 0.5, 1.0])
    with pytest.raises(RuntimeError):
        SigmoidGate().backward(1.0)
    with pytest.raises(RuntimeError):
        MulLayer().backward(1.0)


def test_exports():
    assert fastbp.graph.Value is Value
