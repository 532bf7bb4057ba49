"""fastbp.nn: layers against the NumPy reference, gradient checks, the Module protocol."""

import numpy as np
import pytest
from support import num_threads, tolerance

import fastbp
from fastbp import nn, reference
from fastbp.gradcheck import GradcheckError, gradcheck

SHAPES = [(1, 1, 1), (3, 5, 4), (7, 2, 100), (64, 33, 17)]  # (N, D, M)


def away_from_zero(rng, shape, dtype, margin=0.1):
    """Random values with |x| >= margin, so ReLU's kink is never straddled."""
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < margin, np.sign(x + 1e-300) * margin, x)
    return x.astype(dtype)


# --- Linear -----------------------------------------------------------------


@pytest.mark.parametrize("N,D,M", SHAPES)
def test_linear_matches_reference(N, D, M, dtype, rng):
    layer = nn.Linear(D, M, dtype=dtype, rng=0)
    layer.bias.data[...] = rng.standard_normal(M)
    x = rng.standard_normal((N, D)).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    y = layer(x)
    assert y.dtype == dtype and y.shape == (N, M)
    np.testing.assert_allclose(
        y, reference.linear_forward(x, layer.weight.data, layer.bias.data), **tolerance(dtype)
    )
    dx = layer.backward(dout)
    rdx, rdw, rdb = reference.linear_backward(dout, x, layer.weight.data)
    np.testing.assert_allclose(dx, rdx, **tolerance(dtype))
    np.testing.assert_allclose(layer.weight.grad, rdw, **tolerance(dtype))
    np.testing.assert_allclose(layer.bias.grad, rdb, **tolerance(dtype))


def test_linear_without_bias(rng):
    layer = nn.Linear(4, 3, bias=False, dtype=np.float64, rng=1)
    assert layer.bias is None
    assert [p.name for p in layer.parameters()] == ["weight"]
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data, rtol=1e-12)
    dx = layer.backward(np.ones((5, 3)))
    np.testing.assert_allclose(dx, np.ones((5, 3)) @ layer.weight.data.T, rtol=1e-12)


def test_backward_accumulates(rng):
    layer = nn.Linear(6, 4, dtype=np.float64, rng=2)
    x = rng.standard_normal((5, 6))
    dout = rng.standard_normal((5, 4))
    layer(x)
    layer.backward(dout)
    once_w, once_b = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.backward(dout)
    np.testing.assert_allclose(layer.weight.grad, 2 * once_w, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, 2 * once_b, rtol=1e-12)
    grad_array = layer.weight.grad
    layer.zero_grad()
    assert layer.weight.grad is grad_array  # same preallocated array, cleared
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


@pytest.mark.parametrize("fused", [False, True])
def test_backward_after_zero_grad_overwrites_stale_values(fused, rng):
    # zero_grad only marks the gradients; the next backward writes them whole. Stale
    # values must not leak in, and the result is the one-shot gradient of the reference.
    layers = [nn.Linear(6, 4, dtype=np.float64, rng=2)] + ([nn.ReLU()] if fused else [])
    model = nn.Sequential(*layers)
    linear = layers[0]
    x = rng.standard_normal((5, 6))
    dout = rng.standard_normal((5, 4))
    linear.weight.grad[...] = 123.0  # stale gradients from an earlier step
    linear.bias.grad[...] = -5.0
    model.zero_grad()
    y = model(x)
    model.backward(dout)
    g = dout * (y > 0) if fused else dout
    np.testing.assert_allclose(linear.weight.grad, x.T @ g, rtol=1e-12)
    np.testing.assert_allclose(linear.bias.grad, g.sum(axis=0), rtol=1e-12)
    model.backward(dout)  # no zero_grad in between: it adds
    np.testing.assert_allclose(linear.weight.grad, 2 * (x.T @ g), rtol=1e-12)


def test_zero_grad_reads_as_zero_and_keeps_the_array(rng):
    p = nn.Parameter(rng.standard_normal((3, 2)))
    grad_array = p.grad
    grad_array[...] = 4.0
    p.zero_grad()
    assert p.grad is grad_array and not p.grad.any()
    p.zero_grad()
    p.grad += 2.0  # in-place arithmetic on a zeroed gradient starts from zero
    np.testing.assert_array_equal(grad_array, np.full((3, 2), 2.0))
    p.grad = 0.5  # assignment copies into the same array (broadcast)
    assert p.grad is grad_array and np.all(grad_array == 0.5)
    with pytest.raises(ValueError):
        p.grad = np.ones((2, 3))


def test_failed_backward_after_zero_grad_leaves_zero_gradients(rng):
    from fastbp.nn.module import write_grads

    p = nn.Parameter(rng.standard_normal((3, 2)))
    p.grad[...] = 4.0
    p.zero_grad()

    def half_written(grads, accumulate):
        assert not accumulate
        grads[0][0] = 1.0  # part of the gradient written, then a failure
        raise RuntimeError("backward failed")

    with pytest.raises(RuntimeError):
        write_grads([p, None], half_written)
    assert not p.grad.any()


def test_shared_parameter_after_zero_grad_sums_both_uses(rng):
    # One Parameter in two layers: the first backward writes it, the second must add.
    a = nn.Linear(4, 4, dtype=np.float64, rng=1)
    b = nn.Linear(4, 4, dtype=np.float64, rng=2)
    b.weight = a.weight
    x = rng.standard_normal((3, 4))
    d = rng.standard_normal((3, 4))
    a.weight.grad[...] = 9.0
    a.zero_grad()
    b.zero_grad()
    h = a(x)
    b(h)
    dh = b.backward(d)
    a.backward(dh)
    np.testing.assert_allclose(a.weight.grad, h.T @ d + x.T @ dh, rtol=1e-12)


def test_conv_backward_after_zero_grad_overwrites_stale_values(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=0)
    x = rng.standard_normal((2, 2, 5, 5))
    dout = rng.standard_normal((2, 3, 5, 5))
    _, dw, db = fastbp.ops.conv2d_backward(dout, x, conv.weight.data, 1, 1)
    conv.weight.grad[...] = 7.0
    conv.zero_grad()
    conv(x)
    conv.backward(dout)
    np.testing.assert_array_equal(conv.weight.grad, dw)
    np.testing.assert_array_equal(conv.bias.grad, db)


def test_linear_leading_dims(rng):
    layer = nn.Linear(3, 2, dtype=np.float64, rng=3)
    x = rng.standard_normal((4, 5, 3))
    y = layer(x)
    assert y.shape == (4, 5, 2)
    np.testing.assert_allclose(y.reshape(-1, 2), layer(x.reshape(-1, 3)), rtol=1e-12)
    layer(x)
    dx = layer.backward(np.ones((4, 5, 2)))
    assert dx.shape == x.shape
    single = layer(x[0, 0])
    assert single.shape == (2,)


def test_linear_init():
    he = nn.Linear(400, 300, rng=0).weight.data
    xavier = nn.Linear(400, 300, init="xavier", rng=0).weight.data
    small = nn.Linear(400, 300, init=0.01, rng=0).weight.data
    assert he.shape == (400, 300) and he.dtype == np.float32
    assert abs(he.std() / np.sqrt(2 / 400) - 1) < 0.02
    assert abs(xavier.std() / np.sqrt(1 / 400) - 1) < 0.02
    assert abs(small.std() / 0.01 - 1) < 0.02
    assert abs(he.mean()) < 0.01
    assert not nn.Linear(4, 3).bias.data.any()
    # Seeds repeat exactly; a Generator is consumed.
    np.testing.assert_array_equal(nn.Linear(5, 4, rng=7).weight.data,
                                  nn.Linear(5, 4, rng=7).weight.data)
    gen = np.random.default_rng(7)
    np.testing.assert_array_equal(nn.Linear(5, 4, rng=gen).weight.data,
                                  nn.Linear(5, 4, rng=7).weight.data)
    assert not np.array_equal(nn.Linear(5, 4, rng=gen).weight.data,
                              nn.Linear(5, 4, rng=7).weight.data)


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"init": "glorot"}, ValueError),
        ({"init": -1.0}, ValueError),
        ({"init": None}, TypeError),
        ({"dtype": np.int32}, TypeError),
        ({"dtype": np.float16}, TypeError),
        ({"rng": "seed"}, TypeError),
        ({"rng": 1.5}, TypeError),
    ],
)
def test_linear_bad_arguments(kwargs, exc):
    with pytest.raises(exc, match="Linear"):
        nn.Linear(3, 2, **kwargs)


@pytest.mark.parametrize("args", [(0, 3), (3, 0), (2.0, 3), (True, 3)])
def test_linear_bad_sizes(args):
    with pytest.raises((ValueError, TypeError), match="features"):
        nn.Linear(*args)


def test_linear_wrong_feature_count():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*\(5, 4\).*3"):
        layer(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="Linear"):
        layer(np.float32(1.0))
    layer(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"dout has shape \(5, 3\), expected \(5, 2\)"):
        layer.backward(np.zeros((5, 3), np.float32))


def test_backward_before_forward():
    for layer in (nn.Linear(2, 2), nn.ReLU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Tanh()):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            layer.backward(np.zeros((1, 2), np.float32))


def test_input_conversion():
    layer = nn.Linear(2, 3, rng=0)
    ref = layer(np.array([[1.0, -2.0]], np.float32))
    for x in ([[1, -2]], np.array([[1.0, -2.0]]), np.array([[1, -2]], np.int8)):
        y = layer(x)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, ref)
    assert layer(np.array([[True, False]])).dtype == np.float32  # bool is 0/1
    for bad in (np.array([[1 + 1j, 2]]), np.array([["a", "b"]]), np.array([[None, 1]]),
                [[object(), 1]]):
        with pytest.raises(TypeError, match="Linear.*real-valued"):
            layer(bad)
    # Activations keep float32/float64 and promote other real input like NumPy.
    assert nn.ReLU()(np.zeros(3, np.float64)).dtype == np.float64
    assert nn.Tanh()(np.zeros(3, np.float32)).dtype == np.float32
    assert nn.Sigmoid()(np.zeros(3, np.int16)).dtype == np.float32
    assert nn.Sigmoid()(np.zeros(3, np.int64)).dtype == np.float64
    with pytest.raises(TypeError, match="ReLU"):
        nn.ReLU()(np.array(["x"]))


def test_no_copy_for_matching_dtype(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer = nn.Linear(3, 2)
    layer(x)
    assert layer._x is x


# --- activations ------------------------------------------------------------

ACTIVATIONS = [
    (nn.ReLU, {}, "relu", False),
    (nn.LeakyReLU, {"negative_slope": 0.2}, "leaky_relu", False),
    (nn.Sigmoid, {}, "sigmoid", True),
    (nn.Tanh, {}, "tanh", True),
]


@pytest.mark.parametrize("cls,kwargs,op,uses_output", ACTIVATIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("shape", [(1,), (5, 7), (2, 3, 4, 5), (0, 3)])
def test_activation_matches_reference(cls, kwargs, op, uses_output, shape, dtype, rng):
    layer = cls(**kwargs)
    extra = tuple(kwargs.values())
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    y = layer(x)
    ry = getattr(reference, op + "_forward")(x, *extra)
    np.testing.assert_allclose(y, ry, **tolerance(dtype))
    dx = layer.backward(dout)
    saved = ry if uses_output else x
    rdx = getattr(reference, op + "_backward")(dout, saved, *extra)
    np.testing.assert_allclose(dx, rdx, **tolerance(dtype))
    assert dx.dtype == dtype and dx.shape == shape
    with pytest.raises(ValueError, match=cls.__name__):
        layer.backward(np.zeros(shape + (2,), dtype))


# --- gradient checks (float64) ----------------------------------------------


def test_gradcheck_linear(rng):
    layer = nn.Linear(5, 4, dtype=np.float64, rng=0)
    layer.bias.data[...] = rng.standard_normal(4)
    assert gradcheck(layer, rng.standard_normal((3, 5)))
    assert gradcheck(nn.Linear(3, 2, bias=False, dtype=np.float64, rng=1),
                     rng.standard_normal((4, 3)))


@pytest.mark.parametrize("cls,kwargs", [(c, k) for c, k, _, _ in ACTIVATIONS])
def test_gradcheck_activations(cls, kwargs, rng):
    assert gradcheck(cls(**kwargs), away_from_zero(rng, (4, 6), np.float64))


def test_gradcheck_mlp(rng):
    net = nn.Sequential(
        nn.Linear(3, 8, dtype=np.float64, rng=0), nn.Tanh(),
        nn.Linear(8, 6, dtype=np.float64, rng=1), nn.Sigmoid(),
        nn.Linear(6, 5, dtype=np.float64, rng=2), nn.LeakyReLU(0.1),
        nn.Linear(5, 2, dtype=np.float64, rng=3),
    )
    for p in net.parameters():
        p.data[...] = rng.standard_normal(p.data.shape)
    assert gradcheck(net, rng.standard_normal((4, 3)))


def test_gradcheck_relu_net(rng):
    # The hidden pre-activations are checked to stay clear of ReLU's kink.
    net = nn.Sequential(nn.Linear(2, 10, dtype=np.float64, rng=0), nn.ReLU(),
                        nn.Linear(10, 3, dtype=np.float64, rng=1))
    x = rng.standard_normal((5, 2))
    pre = net[0](x)
    assert np.abs(pre).min() > 1e-4
    assert gradcheck(net, x)


# --- Sequential and the Module protocol -------------------------------------


def spiral_net(dtype=np.float32):
    return nn.Sequential(nn.Linear(2, 100, dtype=dtype, rng=0), nn.ReLU(),
                         nn.Linear(100, 3, dtype=dtype, rng=1))


def test_sequential_chain(rng):
    net = spiral_net(np.float64)
    x = rng.standard_normal((9, 2))
    dout = rng.standard_normal((9, 3))
    w1, b1 = net[0].weight.data, net[0].bias.data
    w2, b2 = net[2].weight.data, net[2].bias.data
    h = reference.relu_forward(reference.linear_forward(x, w1, b1))
    np.testing.assert_allclose(net(x), reference.linear_forward(h, w2, b2), rtol=1e-12)
    dx = net.backward(dout)
    dh, dw2, db2 = reference.linear_backward(dout, h, w2)
    dpre = reference.relu_backward(dh, reference.linear_forward(x, w1, b1))
    rdx, dw1, db1 = reference.linear_backward(dpre, x, w1)
    for got, want in [(dx, rdx), (net[0].weight.grad, dw1), (net[0].bias.grad, db1),
                      (net[2].weight.grad, dw2), (net[2].bias.grad, db2)]:
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("first", ["linear", "conv"])
def test_first_layer_without_input_grad(first, rng):
    """input_grad=False: backward returns None and every parameter gradient is
    bit for bit what the full backward pass gives."""
    def make(input_grad):
        if first == "linear":
            head = nn.Linear(12, 5, rng=0, input_grad=input_grad)
        else:
            head = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0, input_grad=input_grad), nn.Flatten())
        return nn.Sequential(head, nn.ReLU(), nn.Linear(5 if first == "linear" else 12, 4, rng=1))

    x = rng.standard_normal((6, 12) if first == "linear" else (6, 2, 4, 4)).astype(np.float32)
    dout = rng.standard_normal((6, 4)).astype(np.float32)
    full, skip = make(True), make(False)
    np.testing.assert_array_equal(full(x), skip(x))
    assert full.backward(dout).shape == x.shape
    assert skip.backward(dout) is None
    for (name, p), (_, q) in zip(full.named_parameters(), skip.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
    assert "input_grad=False" in repr(skip)


def test_gradcheck_without_input_grad(rng):
    """The parameters are still checked; a wrong weight gradient still fails."""
    net = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, rng=0, input_grad=False), nn.Tanh())
    x = rng.standard_normal((5, 3))
    assert gradcheck(net, x)
    net[0].backward = lambda dout: (net[0].weight.grad.__iadd__(1.0), None)[1]
    with pytest.raises(GradcheckError, match="0.weight"):
        gradcheck(net, x)


@pytest.mark.parametrize("check_finite", [False, True])
def test_input_grad_false_only_first(check_finite, rng):
    net = nn.Sequential(nn.ReLU(), nn.Linear(3, 2, rng=0, input_grad=False))
    out = net(rng.standard_normal((4, 3)))
    with fastbp.debug.debug_mode(check_finite=check_finite):
        with pytest.raises(ValueError, match="ReLU.*input_grad=False; only the first"):
            net.backward(np.ones_like(out))


def test_parameters_order_and_names():
    net = spiral_net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    params = net.parameters()
    assert [p.name for p in params] == ["weight", "bias", "weight", "bias"]
    assert params[0] is net[0].weight and params[3] is net[2].bias
    assert all(p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype for p in params)
    assert len(net) == 3 and list(net)[1] is net[1] and net[-1] is net[2]
    assert isinstance(net[:2], nn.Sequential) and net[:2][0] is net[0]


def test_repr():
    assert repr(spiral_net()) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=100, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=100, out_features=3, bias=True)\n"
        ")"
    )
    nested = nn.Sequential(nn.Sequential(nn.Tanh()), nn.LeakyReLU(0.2))
    assert repr(nested) == (
        "Sequential(\n  (0): Sequential(\n    (0): Tanh()\n  )\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n)"
    )
    assert "dtype=float64" in repr(nn.Linear(2, 2, dtype=np.float64))


def test_train_eval_propagates():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert all(m.training for _, m in net.named_modules())
    assert net.eval() is net
    assert not any(m.training for _, m in net.named_modules())
    net.train()
    assert all(m.training for _, m in net.named_modules())


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_custom_module():
    class Double(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2, dtype=np.float64, rng=0)

        def forward(self, x):
            return self.inner(x)

        def backward(self, dout):
            return self.inner.backward(dout)

    m = Double()
    assert [n for n, _ in m.named_parameters()] == ["inner.weight", "inner.bias"]
    assert gradcheck(m, np.ones((1, 2)))

    class Forgot(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        Forgot()


def test_thread_count_does_not_change_results(rng):
    x = rng.standard_normal((512, 2)).astype(np.float32)
    results = []
    for n in (1, 2):
        with num_threads(n):
            net = spiral_net()
            y = net(x)
            dx = net.backward(np.ones_like(y))
            results.append((y, dx, net[0].weight.grad.copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# --- state_dict ---------------------------------------------------------------


def test_state_dict_round_trip(rng):
    net = spiral_net()
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(not np.shares_memory(state[n], p.data) for n, p in net.named_parameters())
    other = nn.Sequential(nn.Linear(2, 100, rng=5), nn.ReLU(), nn.Linear(100, 3, rng=6))
    params_before = [p.data for p in other.parameters()]
    other.load_state_dict(state)
    assert [p.data for p in other.parameters()] == params_before  # same array objects
    x = rng.standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_array_equal(other(x), net(x))
    state["0.weight"][...] = 0  # a copy: the model is unaffected
    assert net[0].weight.data.any()


def test_load_state_dict_rejects_bad_state():
    net = spiral_net()
    before = net.state_dict()
    good = spiral_net().state_dict()
    good["0.weight"] += 1  # would change the model if anything were written

    missing = dict(good)
    del missing["2.bias"]
    unexpected = dict(good, extra=np.zeros(1))
    wrong_shape = dict(good)
    wrong_shape["2.weight"] = np.zeros((3, 100), np.float32)
    not_numeric = dict(good)
    not_numeric["2.bias"] = np.array(["a", "b", "c"])
    cases = [
        (missing, ValueError, "missing keys.*2.bias"),
        (unexpected, ValueError, "unexpected keys.*extra"),
        (wrong_shape, ValueError, r"2.weight.*\(3, 100\).*\(100, 3\)"),
        (not_numeric, TypeError, "2.bias"),
        ([1, 2], TypeError, "mapping"),
    ]
    for state, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            net.load_state_dict(state)
        for key, value in net.state_dict().items():
            np.testing.assert_array_equal(value, before[key])


def test_state_dict_converts_dtype():
    net = nn.Linear(2, 2, dtype=np.float32, rng=0)
    state = {k: v.astype(np.float64) for k, v in net.state_dict().items()}
    state["bias"] += 0.5
    net.load_state_dict(state)
    assert net.bias.data.dtype == np.float32 and np.all(net.bias.data == 0.5)


def test_public_exports():
    assert fastbp.nn is nn
    for name in ("Module", "Parameter", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
                 "Sequential"):
        assert hasattr(nn, name)


def test_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    net = nn.Sequential(nn.Linear(4, 6, dtype=np.float64, rng=0), nn.LeakyReLU(0.1),
                        nn.Linear(6, 5, dtype=np.float64, rng=1), nn.Sigmoid(),
                        nn.Linear(5, 3, dtype=np.float64, rng=2), nn.Tanh())
    x = rng.standard_normal((7, 4))
    dout = rng.standard_normal((7, 3))
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.LeakyReLU(0.1),
                               torch.nn.Linear(6, 5), torch.nn.Sigmoid(),
                               torch.nn.Linear(5, 3), torch.nn.Tanh()).double()
    with torch.no_grad():
        for ours, theirs in zip(net, tnet):
            if isinstance(ours, nn.Linear):
                theirs.weight.copy_(torch.tensor(ours.weight.data.T))  # torch stores (out, in)
                theirs.bias.copy_(torch.tensor(ours.bias.data))
    tx = torch.tensor(x, requires_grad=True)
    ty = tnet(tx)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(net(x), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.backward(dout), tx.grad.numpy(), rtol=1e-11, atol=1e-14)
    for ours, theirs in zip(net, tnet):
        if isinstance(ours, nn.Linear):
            np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy().T,
                                       rtol=1e-11, atol=1e-14)
            np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(),
                                       rtol=1e-11, atol=1e-14)


def test_deepcopy_and_pickle():
    import copy
    import pickle

    net = spiral_net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert repr(clone) == repr(net)
        assert clone[0].weight.data is not net[0].weight.data
        for (n1, p1), (n2, p2) in zip(net.named_parameters(), clone.named_parameters()):
            assert n1 == n2
            np.testing.assert_array_equal(p1.data, p2.data)


def test_buffers_in_state_dict():
    class Running(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(np.ones(2))
            self.register_buffer("mean", np.zeros(2))

    net = nn.Sequential(Running())
    assert [n for n, _ in net.named_parameters()] == ["0.scale"]
    net[0].mean = np.array([1.0, 2.0])  # reassigning keeps it registered
    state = net.state_dict()
    assert list(state) == ["0.scale", "0.mean"]
    np.testing.assert_array_equal(state["0.mean"], [1.0, 2.0])
    other = nn.Sequential(Running())
    other.load_state_dict(state)
    np.testing.assert_array_equal(other[0].mean, [1.0, 2.0])


def test_sequential_fuses_linear_then_relu_bitwise(rng):
    """Sequential runs Linear + ReLU as one step (Linear.fuse_next), with bitwise the outputs and
    gradients of the layers run one at a time, also for inputs with extra leading axes
    and a first layer without input gradient."""
    from fastbp.nn.dense import LinearReLU

    def net(seed):
        return nn.Sequential(nn.Linear(6, 8, rng=seed, input_grad=False), nn.ReLU(),
                             nn.Linear(8, 5, rng=seed + 1), nn.ReLU(), nn.Linear(5, 3, rng=2))

    fused, plain = net(0), net(0)
    for shape in [(7, 6), (2, 3, 6)]:
        x = rng.standard_normal(shape).astype(np.float32)
        dout = rng.standard_normal(shape[:-1] + (3,)).astype(np.float32)
        y = fused(x)
        assert [type(s) for s in fused.__dict__["_last_steps"]] == [LinearReLU, LinearReLU,
                                                                   nn.Linear]
        assert fused.backward(dout) is None
        h = x
        for module in plain:
            h = module(h)
        assert y.tobytes() == h.tobytes()
        for module in reversed(list(plain)):
            dout = module.backward(dout)
        for p, q in zip(fused.parameters(), plain.parameters()):
            assert p.grad.tobytes() == q.grad.tobytes()
    with pytest.raises(RuntimeError, match="before forward"):
        fused[1].backward(np.zeros((2, 3, 8), np.float32))
