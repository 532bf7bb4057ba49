"""fastbp.gradcheck itself: it passes correct gradients, catches wrong ones, and cleans up."""

import numpy as np
import pytest

import fastbp
from fastbp import nn
from fastbp.gradcheck import GradcheckError, gradcheck


def test_plain_function():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert gradcheck(lambda a, b: a * b + np.sin(a), (x, y),
                     backward=lambda d: (d * (y + np.cos(x)), d * x))
    assert gradcheck(lambda a: np.sum(a**2), x, backward=lambda d: 2 * d * x)


def test_wrong_gradient_is_reported():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])

    def bad_backward(d):
        g = 3 * d * x**2
        g[1, 0] += 0.25  # one wrong element
        return g

    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a: a**3, x, backward=bad_backward)
    msg = str(info.value)
    assert "input 0" in msg and "(2, 2)" in msg and "index (1, 0)" in msg
    assert "analytic" in msg and "numerical" in msg and "1 of 4" in msg
    assert isinstance(info.value, AssertionError)
    assert fastbp.GradcheckError is GradcheckError


class BrokenLinear(nn.Linear):
    """Forgets the bias gradient and scales the weight gradient wrongly."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.weight.grad *= 1.01
        self.bias.grad[...] = 0
        return dx


def test_wrong_parameter_gradient_is_reported_and_state_restored():
    rng = np.random.default_rng(1)
    layer = BrokenLinear(3, 2, dtype=np.float64, rng=0)
    layer.bias.data[...] = rng.standard_normal(2)
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    layer.weight.grad[...] = 7.0  # the caller's gradients survive the check
    with pytest.raises(GradcheckError, match="parameter 'weight'"):
        gradcheck(layer, rng.standard_normal((4, 3)))
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # every perturbation undone
    assert np.all(layer.weight.grad == 7.0) and not layer.bias.grad.any()

    class BiasOnly(nn.Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.bias.grad[...] = 0
            return dx

    with pytest.raises(GradcheckError, match="parameter 'bias'"):
        gradcheck(BiasOnly(3, 2, dtype=np.float64, rng=0), rng.standard_normal((4, 3)))


def test_named_parameters_in_messages():
    net = nn.Sequential(nn.Linear(2, 3, dtype=np.float64, rng=0), nn.Tanh(),
                        BrokenLinear(3, 2, dtype=np.float64, rng=1))
    with pytest.raises(GradcheckError, match="parameter '2.weight'"):
        gradcheck(net, np.ones((2, 2)))


def test_inputs_are_not_modified():
    x = np.array([[1.0, 2.0]])
    x_before = x.copy()
    gradcheck(nn.Linear(2, 2, dtype=np.float64, rng=0), x)
    np.testing.assert_array_equal(x, x_before)
    # Integer inputs are copied to float64.
    assert gradcheck(nn.Tanh(), np.array([[1, 2]]))


def test_argument_errors():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(nn.Linear(2, 2, rng=0), np.ones((1, 2)))
    with pytest.raises(TypeError, match="backward="):
        gradcheck(lambda a: a, np.ones(2))
    with pytest.raises(TypeError, match="only for plain functions"):
        gradcheck(nn.Tanh(), np.ones(2), backward=lambda d: d)
    with pytest.raises(ValueError, match="2 gradient"):
        gradcheck(lambda a, b: a * b, (np.ones(2), np.ones(2)), backward=lambda d: d)
    with pytest.raises(ValueError, match="shape"):
        gradcheck(lambda a: a, np.ones(2), backward=lambda d: np.ones(3))
    with pytest.raises(TypeError, match="real-valued"):
        gradcheck(nn.Tanh(), np.array([1j]))
    with pytest.raises(TypeError, match="module or a function"):
        gradcheck(3, np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        gradcheck(lambda: 0.0, (), backward=lambda d: ())


def test_nan_gradient_fails():
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: a * 2, np.ones(3), backward=lambda d: d * np.nan)


def test_seed_changes_dout_only():
    x = np.random.default_rng(3).standard_normal((2, 3))
    for seed in (0, 1, 2):
        assert gradcheck(nn.Sigmoid(), x, seed=seed)
