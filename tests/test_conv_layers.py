"""Conv2d, MaxPool2d, AvgPool2d, Flatten: parity with the NumPy reference ops and
PyTorch, float64 gradient checks, composition with Sequential and the loss, errors."""

from __future__ import annotations

import numpy as np
import pytest

from fastbp import gradcheck
from fastbp import reference as ref
from fastbp.losses import SoftmaxCrossEntropy
from fastbp.nn import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from support import tolerance

# (C, OC, kernel, stride, padding, (H, W))
CONV_CASES = [
    (1, 4, 3, 1, 1, (8, 8)),
    (3, 5, (3, 2), (2, 1), (1, 0), (7, 6)),
    (2, 3, 5, 1, 0, (9, 11)),
    (4, 2, 1, 2, 0, (5, 5)),
    (2, 2, 3, 3, 2, (4, 7)),
]


def _distinct(rng, shape, dtype=np.float64):
    """Values without ties, at least 1e-2 apart: max pooling is differentiable there."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.01 + 0.001).astype(dtype)


def _case_id(c):
    return f"C{c[0]}-OC{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}"


@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv2d_matches_reference(case, dtype, rng):
    C, OC, k, s, p, (H, W) = case
    layer = Conv2d(C, OC, k, stride=s, padding=p, dtype=dtype, rng=rng)
    layer.bias.data[...] = rng.standard_normal(OC)
    x = rng.standard_normal((3, C, H, W)).astype(dtype)
    y = layer(x)
    expected = ref.conv2d_forward(x, layer.weight.data, layer.bias.data, s, p)
    assert y.dtype == dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **tolerance(dtype))
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)
    rdx, rdw, rdb = ref.conv2d_backward(dout, x, layer.weight.data, s, p)
    np.testing.assert_allclose(dx, rdx, **tolerance(dtype))
    np.testing.assert_allclose(layer.weight.grad, rdw, **tolerance(dtype))
    np.testing.assert_allclose(layer.bias.grad, rdb, **tolerance(dtype))
    # a second backward accumulates
    layer.backward(dout)
    np.testing.assert_allclose(layer.weight.grad, 2 * rdw, **tolerance(dtype))
    np.testing.assert_allclose(layer.bias.grad, 2 * rdb, **tolerance(dtype))
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def test_conv2d_without_bias(rng):
    layer = Conv2d(2, 3, 3, padding=1, bias=False, dtype=np.float64, rng=rng)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = rng.standard_normal((2, 2, 5, 5))
    np.testing.assert_allclose(layer(x), ref.conv2d_forward(x, layer.weight.data, None, 1, 1),
                               **tolerance(np.float64))
    dx = layer.backward(np.ones((2, 3, 5, 5)))
    assert dx.shape == x.shape


@pytest.mark.parametrize("pool, kernel, stride", [
    ("max", 2, None), ("max", (3, 2), (1, 2)), ("max", 3, 2),
    ("avg", 2, None), ("avg", (2, 3), (2, 1)), ("avg", 3, 1),
])
def test_pools_match_reference(pool, kernel, stride, dtype, rng):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    layer = (MaxPool2d if pool == "max" else AvgPool2d)(kernel, stride)
    y = layer(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)
    if pool == "max":
        ry, argmax = ref.max_pool2d_forward(x, kernel, stride)
        rdx = ref.max_pool2d_backward(dout, argmax, x.shape)
    else:
        ry = ref.avg_pool2d_forward(x, kernel, stride)
        rdx = ref.avg_pool2d_backward(dout, x.shape, kernel, stride)
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, ry, **tolerance(dtype))
    np.testing.assert_allclose(dx, rdx, **tolerance(dtype))


def test_pool_stride_defaults_to_kernel():
    assert MaxPool2d(3).stride == (3, 3)
    assert AvgPool2d((2, 3)).stride == (2, 3)
    assert MaxPool2d(3, 1).stride == (1, 1)
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"


def test_flatten(rng):
    x = rng.standard_normal((4, 3, 2, 5)).astype(np.float32)
    f = Flatten()
    y = f(x)
    assert y.shape == (4, 30) and np.shares_memory(y, x)
    np.testing.assert_array_equal(y, x.reshape(4, -1))
    dout = rng.standard_normal((4, 30)).astype(np.float32)
    np.testing.assert_array_equal(f.backward(dout), dout.reshape(x.shape))
    assert Flatten()(np.zeros((3, 5))).shape == (3, 5)


# --- gradient checks (float64) -------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES[:4], ids=lambda c: f"k{c[2]}-s{c[3]}-p{c[4]}")
def test_conv2d_gradcheck(case, rng):
    C, OC, k, s, p, (H, W) = case
    layer = Conv2d(C, OC, k, stride=s, padding=p, dtype=np.float64, rng=rng)
    layer.bias.data[...] = rng.standard_normal(OC)
    assert gradcheck(layer, rng.standard_normal((2, C, H, W)))


@pytest.mark.parametrize("kernel, stride", [(2, None), ((2, 3), 1), (3, 2)])
def test_max_pool_gradcheck(kernel, stride, rng):
    assert gradcheck(MaxPool2d(kernel, stride), _distinct(rng, (2, 2, 6, 7)))


@pytest.mark.parametrize("kernel, stride", [(2, None), ((2, 3), 1), (3, 2)])
def test_avg_pool_gradcheck(kernel, stride, rng):
    assert gradcheck(AvgPool2d(kernel, stride), rng.standard_normal((2, 2, 6, 7)))


def test_flatten_gradcheck(rng):
    assert gradcheck(Flatten(), rng.standard_normal((2, 3, 2, 2)))


def _small_cnn(dtype, rng, pool=MaxPool2d):
    return Sequential(
        Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=rng),
        ReLU(),
        pool(2),
        Flatten(),
        Linear(3 * 3 * 3, 5, dtype=dtype, rng=rng),
        ReLU(),
        Linear(5, 4, dtype=dtype, rng=rng),
    )


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_cnn_with_loss_gradcheck(pool, rng):
    model = _small_cnn(np.float64, rng, pool)
    for p in model.parameters():
        if p.data.ndim == 1:
            p.data[...] = rng.standard_normal(p.shape) * 0.1
    x = _distinct(rng, (3, 2, 6, 6)) - 0.5
    labels = np.array([0, 3, 1])
    loss = SoftmaxCrossEntropy()

    def f(x):
        return loss(model(x), labels)

    def backward(d):
        return model.backward(d * loss.backward())

    class Wrapped:  # the loss as a layer: gradcheck checks x and every parameter
        def forward(self, x):
            return f(x)

        def backward(self, d):
            return backward(d)

        def parameters(self):
            return model.parameters()

        def named_parameters(self):
            return model.named_parameters()

    assert gradcheck(Wrapped(), x)


# --- composition ----------------------------------------------------------------


def test_sequential_state_dict_and_repr(rng):
    model = _small_cnn(np.float32, rng)
    keys = list(model.state_dict())
    assert keys == ["0.weight", "0.bias", "4.weight", "4.bias", "6.weight", "6.bias"]
    assert model[0].weight.shape == (3, 2, 3, 3)
    text = repr(model)
    assert "Conv2d(2, 3, kernel_size=(3, 3), padding=(1, 1))" in text
    assert "Flatten()" in text


def _unfused_run(model, x, dout):
    """Forward and backward module by module, as a Sequential without fusion would."""
    for module in model:
        x = module(x)
    y = x
    for module in reversed(list(model)):
        dout = module.backward(dout)
    return y, dout


def test_sequential_fuses_conv_relu_max_pool_bitwise(rng):
    """Sequential runs Conv2d + ReLU + MaxPool2d (and Linear + ReLU) as one step each,
    with bitwise the outputs and gradients of the layers run one at a time."""
    from fastbp.nn.conv import ConvReLUMaxPool2d
    from fastbp.nn.dense import LinearReLU

    fused, plain = _small_cnn(np.float32, rng), _small_cnn(np.float32, rng)
    plain.load_state_dict(fused.state_dict())
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    dout = rng.standard_normal((4, 4)).astype(np.float32)
    y = fused(x)
    steps = fused.__dict__["_last_steps"]
    assert [type(s) for s in steps] == [ConvReLUMaxPool2d, Flatten, LinearReLU, Linear]
    dx = fused.backward(dout)
    y_plain, dx_plain = _unfused_run(plain, x, dout)
    assert y.tobytes() == y_plain.tobytes() and dx.tobytes() == dx_plain.tobytes()
    for p, q in zip(fused.parameters(), plain.parameters()):
        assert p.grad.tobytes() == q.grad.tobytes()
    # The fused pair's modules hold no cache of their own: alone, their backward raises.
    with pytest.raises(RuntimeError, match="before forward"):
        fused[2].backward(np.zeros((4, 3, 3, 3), np.float32))
    assert repr(fused) == repr(plain)  # the children are unchanged


def test_sequential_fuses_relu_max_pool_without_conv_bitwise(rng):
    from fastbp.nn.conv import ReLUMaxPool2d

    def net():
        return Sequential(AvgPool2d(1), ReLU(), MaxPool2d(2, 1), Flatten())

    fused, plain = net(), net()
    x = rng.standard_normal((3, 2, 5, 6)).astype(np.float32)
    dout = rng.standard_normal((3, 2 * 4 * 5)).astype(np.float32)
    y = fused(x)
    assert [type(s) for s in fused.__dict__["_last_steps"]] == [AvgPool2d, ReLUMaxPool2d, Flatten]
    dx = fused.backward(dout)
    y_plain, dx_plain = _unfused_run(plain, x, dout)
    assert y.tobytes() == y_plain.tobytes() and dx.tobytes() == dx_plain.tobytes()


def test_fused_conv_block_errors_name_the_layer(rng):
    net = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), MaxPool2d(5))
    with pytest.raises(ValueError, match="MaxPool2d"):  # the 4x4 output is smaller than 5x5
        net(rng.standard_normal((1, 1, 6, 6)).astype(np.float32))
    with pytest.raises(ValueError, match="Conv2d.*channels"):
        net(rng.standard_normal((1, 2, 6, 6)).astype(np.float32))


def test_sequential_fuses_only_adjacent_exact_classes():
    from fastbp.nn.container import fused_steps
    from fastbp.nn.conv import ReLUMaxPool2d

    class MyReLU(ReLU):
        pass

    relu, pool, flat = ReLU(), MaxPool2d(2), Flatten()
    kinds = [type(s) for s in fused_steps([relu, relu, pool, MyReLU(), pool, pool, relu])]
    assert kinds == [ReLU, ReLUMaxPool2d, MyReLU, MaxPool2d, MaxPool2d, ReLU]
    assert [type(s) for s in fused_steps([relu, flat, pool])] == [ReLU, Flatten, MaxPool2d]


def test_sequential_refuses_after_append(rng):
    """The fusion plan follows the structure: appending a pool after a trailing ReLU
    fuses the block on the next forward."""
    from fastbp.nn.conv import ConvReLUMaxPool2d

    net = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU())
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    net(x)
    assert type(net.__dict__["_last_steps"][-1]) is ReLU
    net.append(MaxPool2d(2))
    y = net(x)
    assert [type(s) for s in net.__dict__["_last_steps"]] == [ConvReLUMaxPool2d]
    np.testing.assert_array_equal(
        y, ref.max_pool2d_forward(ref.relu_forward(net[0](x)), 2)[0])


def test_integer_input_is_converted(rng):
    layer = Conv2d(1, 2, 3, rng=rng)
    x = rng.integers(0, 255, (2, 1, 5, 5), dtype=np.uint8)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(
        y, ref.conv2d_forward(x.astype(np.float32), layer.weight.data, layer.bias.data),
        **tolerance(np.float32))
    assert MaxPool2d(2)(x).dtype == np.float32


# --- initialisation -------------------------------------------------------------


def test_conv2d_init():
    a = Conv2d(8, 64, (3, 5), rng=7)
    b = Conv2d(8, 64, (3, 5), rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.shape == (64, 8, 3, 5) and a.weight.dtype == np.float32
    fan_in = 8 * 3 * 5
    assert abs(a.weight.data.std() - np.sqrt(2 / fan_in)) < 0.1 * np.sqrt(2 / fan_in)
    x = Conv2d(8, 64, (3, 5), init="xavier", rng=7)
    assert abs(x.weight.data.std() - np.sqrt(1 / fan_in)) < 0.1 * np.sqrt(1 / fan_in)
    c = Conv2d(8, 64, 3, init=0.01, rng=7)
    assert abs(c.weight.data.std() - 0.01) < 0.001
    assert not a.bias.data.any()
    assert Conv2d(1, 1, 1, dtype=np.float64).weight.dtype == np.float64


# --- errors ---------------------------------------------------------------------


def test_conv2d_channel_mismatch_names_layer_and_shapes():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*1 channels, expected 3.*\(2, 1, 8, 8\)"):
        layer(np.zeros((2, 1, 8, 8), np.float32))


@pytest.mark.parametrize("layer", [Conv2d(1, 2, 3), MaxPool2d(2), AvgPool2d(2)],
                         ids=["conv", "maxpool", "avgpool"])
def test_wrong_ndim(layer):
    with pytest.raises(ValueError, match=r"4-D.*got shape \(8, 8\)"):
        layer(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match=r"4-D.*got shape \(2, 1, 8, 8, 1\)"):
        layer(np.zeros((2, 1, 8, 8, 1), np.float32))


@pytest.mark.parametrize("layer", [Conv2d(1, 2, 5), MaxPool2d(5), AvgPool2d((2, 5))],
                         ids=["conv", "maxpool", "avgpool"])
def test_input_smaller_than_kernel(layer):
    with pytest.raises(ValueError, match="too small"):
        layer(np.zeros((1, 1, 4, 4), np.float32))


def test_flatten_needs_batch_axis():
    with pytest.raises(ValueError, match=r"Flatten.*got shape \(5,\)"):
        Flatten()(np.zeros(5))


@pytest.mark.parametrize("make", [
    lambda: Conv2d(1, 2, 3, padding=1), lambda: MaxPool2d(2), lambda: AvgPool2d(2),
    lambda: Flatten(),
], ids=["conv", "maxpool", "avgpool", "flatten"])
def test_backward_checks(make):
    layer = make()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((2, 2, 4, 4), np.float32))
    y = layer(np.ones((2, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"dout has shape \(3, 3\), expected"):
        layer.backward(np.zeros((3, 3), np.float32))
    assert layer.backward(np.ones_like(y)).shape == (2, 1, 4, 4)


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(in_channels=0), ValueError, "in_channels must be >= 1"),
    (dict(out_channels=2.0), TypeError, "out_channels must be an int"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (dict(kernel_size=0), ValueError, "kernel_size must be >= 1"),
    (dict(kernel_size=True), TypeError, "kernel_size must be an int"),
    (dict(stride=(1, 0)), ValueError, "stride must be >= 1"),
    (dict(padding=-1), ValueError, "padding must be >= 0"),
    (dict(padding=1.5), TypeError, "padding must be an int"),
    (dict(init="kaiming"), ValueError, "init must be"),
    (dict(dtype=np.int32), TypeError, "dtype must be float32 or float64"),
    (dict(rng="seed"), TypeError, "rng must be"),
])
def test_conv2d_bad_arguments(kwargs, error, pattern):
    args = dict(in_channels=1, out_channels=2, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(error, match=pattern):
        Conv2d(**args)


def test_pool_bad_arguments():
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be >= 1"):
        MaxPool2d(0)
    with pytest.raises(TypeError, match="AvgPool2d: stride must be an int"):
        AvgPool2d(2, stride="2")


def test_non_numeric_input():
    with pytest.raises(TypeError, match="real-valued"):
        Conv2d(1, 1, 1)(np.array([["a"]]))


# --- PyTorch parity -------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"k{c[2]}-s{c[3]}-p{c[4]}")
def test_conv2d_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    C, OC, k, s, p, (H, W) = case
    layer = Conv2d(C, OC, k, stride=s, padding=p, dtype=dtype, rng=rng)
    layer.bias.data[...] = rng.standard_normal(OC)
    tdtype = getattr(torch, np.dtype(dtype).name)
    tlayer = torch.nn.Conv2d(C, OC, k, stride=s, padding=p, dtype=tdtype)
    with torch.no_grad():
        tlayer.weight.copy_(torch.from_numpy(layer.weight.data))
        tlayer.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((3, C, H, W)).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = tlayer(tx)
    y = layer(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tolerance(dtype))
    dout = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), **tolerance(dtype))
    np.testing.assert_allclose(layer.weight.grad, tlayer.weight.grad.numpy(), **tolerance(dtype))
    np.testing.assert_allclose(layer.bias.grad, tlayer.bias.grad.numpy(), **tolerance(dtype))


@pytest.mark.parametrize("pool, kernel, stride", [
    ("max", 2, None), ("max", (3, 2), (1, 2)), ("avg", 2, None), ("avg", (2, 3), (2, 1)),
])
def test_pools_match_torch(pool, kernel, stride, dtype, rng):
    torch = pytest.importorskip("torch")
    x = _distinct(rng, (2, 3, 7, 8), dtype)
    layer = (MaxPool2d if pool == "max" else AvgPool2d)(kernel, stride)
    tlayer = (torch.nn.MaxPool2d if pool == "max" else torch.nn.AvgPool2d)(kernel, stride)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = tlayer(tx)
    y = layer(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tolerance(dtype))
    dout = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), **tolerance(dtype))


def test_cnn_matches_torch(rng):
    """A whole CNN with the loss: same loss and every gradient as torch autograd."""
    torch = pytest.importorskip("torch")
    dtype = np.float64
    model = _small_cnn(dtype, rng)
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(27, 5, dtype=torch.float64), torch.nn.ReLU(),
        torch.nn.Linear(5, 4, dtype=torch.float64),
    )
    tparams = dict(tmodel.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            data = p.data.T if name.startswith(("4.", "6.")) and p.data.ndim == 2 else p.data
            tparams[name].copy_(torch.from_numpy(np.ascontiguousarray(data)))
    x = rng.standard_normal((5, 2, 6, 6))
    labels = np.array([0, 1, 2, 3, 1])
    loss = SoftmaxCrossEntropy()
    value = loss(model(x), labels)
    model.backward(loss.backward())
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(labels))
    tloss.backward()
    np.testing.assert_allclose(value, tloss.item(), rtol=1e-12)
    for name, p in model.named_parameters():
        tgrad = tparams[name].grad.numpy()
        if name.startswith(("4.", "6.")) and p.data.ndim == 2:
            tgrad = tgrad.T
        np.testing.assert_allclose(p.grad, tgrad, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kernel, stride", [(2, None), (2, 1), ((3, 2), (2, 2)), (3, None)],
                         ids=["2x2s2", "2x2s1", "3x2s2", "3x3s3"])
def test_max_pool_ties_and_nans_match_reference(kernel, stride, dtype, rng):
    """Many ties (small integers) and NaNs anywhere in the window: the first maximum
    and the first NaN win, as in the reference, on the 2x2 fast path and the general one."""
    x = rng.integers(0, 3, (2, 3, 9, 10)).astype(dtype)
    x[rng.random(x.shape) < 0.08] = np.nan
    x[0, 0, :2, :2] = np.nan  # a window full of NaN
    x[0, 1, 0, 1] = np.nan  # NaN after a number in the window
    layer = MaxPool2d(kernel, stride)
    y = layer(x)
    ry, rargmax = ref.max_pool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(layer._argmax, rargmax)
    dout = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(layer.backward(dout),
                                  ref.max_pool2d_backward(dout, rargmax, x.shape))
