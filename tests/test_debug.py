"""The finite-value guard: fastbp.set_debug(check_finite=True) names the first
layer and pass that produced NaN or Inf; off by default and out of the way."""

import numpy as np
import pytest

import fastbp
from fastbp import debug, losses, nn
from fastbp.nn.module import Module, as_input


@pytest.fixture(autouse=True)
def restore_debug():
    before = fastbp.get_debug()
    yield
    fastbp.set_debug(**before)


class Sqrt(Module):
    """sqrt(x); backward ``dout / (2 sqrt(x))`` is 0/0 = NaN where x == 0 and dout == 0."""

    def forward(self, x):
        self._y = np.sqrt(as_input(x, None, self))
        return self._y

    def backward(self, dout):
        with np.errstate(divide="ignore", invalid="ignore"):
            return dout * 0.5 / self._y


def mlp(seed=0):
    return nn.Sequential(nn.Linear(2, 16, rng=seed), nn.ReLU(), nn.Linear(16, 3, rng=seed + 1))


def batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)).astype(np.float32), rng.integers(0, 3, n)


def test_off_by_default_and_nan_propagates_silently():
    assert fastbp.get_debug() == {"check_finite": False}
    x, _ = batch()
    x[0, 0] = np.nan
    y = mlp()(x)
    assert np.isnan(y[0]).any() and np.isfinite(y[1:]).all()


def test_off_never_enters_the_checks(monkeypatch):
    def boom(*args):
        raise AssertionError("debug check ran while the guard is off")

    monkeypatch.setattr(debug, "checked_call", boom)
    monkeypatch.setattr(debug, "checked_sequential_backward", boom)
    net = mlp()
    x, _ = batch()
    net.backward(np.ones_like(net(x)))


def test_layer_fed_nan():
    fastbp.set_debug(check_finite=True)
    net = mlp()
    x, _ = batch()
    x[3, 1] = np.nan
    with pytest.raises(FloatingPointError) as info:
        net(x)
    e = info.value
    assert isinstance(e, debug.NonFiniteError)
    assert str(e).startswith(
        "forward pass: Sequential[0] Linear(in_features=2, out_features=16, bias=True) "
        "received input containing NaN (1 of 16 values, first at index (3, 1))")
    assert e.pass_ == "forward" and e.module is net[0] and e.path == "Sequential[0]"
    assert e.what == "input"


def test_layer_with_inf_weight():
    fastbp.set_debug(check_finite=True)
    net = mlp()
    net[2].weight.data[4, 1] = np.inf
    x, _ = batch()
    with pytest.raises(FloatingPointError,
                       match=r"^forward pass: Sequential\[2\] Linear\(in_features=16, "
                             r"out_features=3, bias=True\) produced (NaN|Inf) .* in its output "
                             r"from finite input; its parameter 'weight' contains Inf$") as info:
        net(x)
    assert info.value.module is net[2] and info.value.what == "output"


def test_backward_producing_nan():
    """ReLU zeros feed Sqrt; the second ReLU's backward sends dout = 0 there, and
    Sqrt's backward computes 0 / 0."""
    fastbp.set_debug(check_finite=True)
    net = nn.Sequential(nn.Linear(2, 16, rng=0), nn.ReLU(), Sqrt(), nn.ReLU(),
                        nn.Linear(16, 3, rng=1))
    x, y = batch()
    loss = losses.SoftmaxCrossEntropy()
    loss(net(x), y)  # forward is finite
    with pytest.raises(FloatingPointError,
                       match=r"^backward pass: Sequential\[2\] Sqrt\(\) produced NaN "
                             r"\(\d+ of 128 values, first at index .*\) in dx$") as info:
        net.backward(loss.backward())
    assert info.value.pass_ == "backward" and info.value.what == "dx"


def test_backward_overflowing_weight_gradient():
    fastbp.set_debug(check_finite=True)
    net = nn.Sequential(nn.Linear(2, 3, init=1e-10, rng=0))
    x = np.full((4, 2), 3e38, np.float32)
    out = net(x)
    assert np.isfinite(out).all()
    with pytest.raises(FloatingPointError,
                       match=r"^backward pass: Sequential\[0\] Linear\(.*\) produced Inf .* "
                             r"in the gradient of its parameter 'weight'$"):
        net.backward(np.full_like(out, 1e10))


def test_nan_dout_from_the_loss_names_the_last_layer():
    fastbp.set_debug(check_finite=True)
    net = mlp()
    x, _ = batch()
    out = net(x)
    dout = np.ones_like(out)
    dout[2, 2] = np.nan
    with pytest.raises(FloatingPointError,
                       match=r"^backward pass: Sequential\[2\] Linear\(.*\) received dout "
                             r"containing NaN"):
        net.backward(dout)


def test_nested_and_named_paths():
    fastbp.set_debug(check_finite=True)
    inner = nn.Sequential(nn.Linear(4, 4, rng=1), nn.Tanh())
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU()), inner)
    inner[0].bias.data[2] = -np.inf
    with pytest.raises(FloatingPointError, match=r"^forward pass: Sequential\[1\]\[0\] Linear"):
        net(batch()[0])

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 4, rng=0)
            self.fc2 = nn.Linear(4, 3, rng=1)

        def forward(self, x):
            return self.fc2(self.fc1(x))

        def backward(self, dout):  # a custom container runs the checked passes itself
            try:
                return debug.checked_backward(self.fc1, debug.checked_backward(self.fc2, dout))
            except debug.NonFiniteError as e:
                e._add_parent(self)
                raise

    model = Net()
    model.fc2.weight.data[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match=r"^forward pass: Net\.fc2 Linear\(in_features=4"):
        model(batch()[0])
    model.fc2.weight.data[0, 0] = 1e30
    model.fc2.weight.data[1, 0] = 1e30
    out = model(np.full((2, 2), 1e-20, np.float32))
    with pytest.raises(FloatingPointError, match=r"^backward pass: Net\.fc2 Linear.* in dx"):
        model.backward(np.full_like(out, 1e20))


def test_layer_called_directly_is_named_by_its_repr():
    fastbp.set_debug(check_finite=True)
    layer = nn.Tanh()
    with pytest.raises(FloatingPointError, match=r"^forward pass: Tanh\(\) received input "
                                                 r"containing Inf \(1 of 1 values"):
        layer(np.array([np.inf]))
    assert layer.__dict__.get("_y") is None  # raised before the layer ran


def test_guard_changes_no_results():
    x, y = batch(32)
    results = []
    for on in (False, True):
        fastbp.set_debug(check_finite=on)
        net = mlp(3)
        loss = losses.SoftmaxCrossEntropy()
        value = loss(net(x), y)
        dx = net.backward(loss.backward())
        results.append((value, dx, [p.grad.copy() for p in net.parameters()]))
    (v0, dx0, g0), (v1, dx1, g1) = results
    assert v0 == v1 and np.array_equal(dx0, dx1)
    assert all(np.array_equal(a, b) for a, b in zip(g0, g1))


def test_set_debug_api():
    assert fastbp.set_debug(check_finite=True) == {"check_finite": False}
    assert fastbp.get_debug() == {"check_finite": True}
    assert fastbp.set_debug() == {"check_finite": True}  # None keeps the setting
    assert fastbp.set_debug(check_finite=np.bool_(False)) == {"check_finite": True}
    assert fastbp.get_debug() == {"check_finite": False}
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        fastbp.set_debug(check_finite="yes")
    with pytest.raises(TypeError):
        fastbp.set_debug(check_nan=True)
    with pytest.raises(RuntimeError):
        with debug.debug_mode(check_finite=True):
            assert fastbp.get_debug() == {"check_finite": True}
            raise RuntimeError
    assert fastbp.get_debug() == {"check_finite": False}


def test_check_finite_runs_fused_pairs_as_single_modules():
    """With the guard on, a Conv2d + ReLU + MaxPool2d block runs unfused, so a NaN is
    named at the module that saw it; turned on between forward and backward, backward
    retraces the fused step forward ran."""
    from fastbp.nn.conv import ConvReLUMaxPool2d

    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    dout = np.ones((2, 8), np.float32)
    y = net(x)
    assert any(type(s) is ConvReLUMaxPool2d for s in net.__dict__["_last_steps"])
    fastbp.set_debug(check_finite=True)
    dx_fused_forward = net.backward(dout)
    y_checked = net(x)
    assert [type(s) for s in net.__dict__["_last_steps"]] == [type(m) for m in net]
    np.testing.assert_array_equal(y_checked, y)
    np.testing.assert_array_equal(net.backward(dout), dx_fused_forward)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(debug.NonFiniteError, match=r"Sequential\[0\] Conv2d"):
        net(bad)
