"""fastbp.losses: values against the reference and by hand, gradient checks, bad input."""

import numpy as np
import pytest
from support import tolerance

from fastbp import losses, nn, ops, reference
from fastbp.gradcheck import gradcheck
from fastbp.losses import MSELoss, SoftmaxCrossEntropy, SquaredError, l2_penalty


@pytest.mark.parametrize("N,C", [(1, 1), (1, 3), (7, 4), (300, 3), (5, 100)])
def test_softmax_cross_entropy_matches_reference(N, C, dtype, rng):
    scores = (5 * rng.standard_normal((N, C))).astype(dtype)
    labels = rng.integers(0, C, N)
    loss = SoftmaxCrossEntropy()
    value = loss(scores, labels)
    assert isinstance(value, float)
    ref_loss, ref_d = reference.softmax_cross_entropy(scores, labels)
    np.testing.assert_allclose(value, ref_loss, **tolerance(dtype))
    d = loss.backward()
    assert d.dtype == dtype and d.shape == (N, C)
    np.testing.assert_allclose(d, ref_d, **tolerance(dtype))


def test_softmax_cross_entropy_by_hand():
    # Uniform scores over 3 classes: loss log(3), the CS231n sanity check.
    loss = SoftmaxCrossEntropy()
    assert loss(np.zeros((4, 3)), np.array([0, 1, 2, 0])) == pytest.approx(np.log(3), rel=1e-12)
    d = loss.backward()
    np.testing.assert_allclose(d[0], np.array([1 / 3 - 1, 1 / 3, 1 / 3]) / 4, rtol=1e-12)
    # Huge logits stay finite.
    assert np.isfinite(loss(np.array([[1e4, -1e4]], np.float32), np.array([1])))
    assert np.isfinite(loss.backward()).all()


def test_softmax_cross_entropy_matches_torch(rng):
    torch = pytest.importorskip("torch")
    scores = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    loss = SoftmaxCrossEntropy()
    value = loss(scores, labels)
    t = torch.tensor(scores, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_cross_entropy_bad_input():
    loss = SoftmaxCrossEntropy()
    s = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*scores \(3, 4\), labels \(2,\)"):
        loss(s, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy.*outside \[0, 4\)"):
        loss(s, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy.*outside"):
        loss(s, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy: empty batch"):
        loss(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="2-D"):
        loss(np.zeros(4, np.float32), np.array([0]))
    with pytest.raises(TypeError, match="labels must be integers"):
        loss(s, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy.*real-valued"):
        loss(np.array([["a"]]), np.array([0]))
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()
    # A failed forward leaves no stale gradient behind.
    loss(s, np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        loss(s, np.array([0, 9, 2]))
    with pytest.raises(RuntimeError):
        loss.backward()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(reduction, dtype, rng):
    y = rng.standard_normal((5, 3)).astype(dtype)
    t = rng.standard_normal((5, 3)).astype(dtype)
    loss = MSELoss(reduction)
    value = loss(y, t)
    diff = y.astype(np.float64) - t
    scale = 1 / diff.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(value, np.sum(diff**2) * scale, **tolerance(dtype))
    np.testing.assert_allclose(loss.backward(), 2 * diff * scale, **tolerance(dtype))
    assert loss.backward().dtype == dtype
    assert repr(loss) == f"MSELoss(reduction='{reduction}')"


def test_mse_matches_torch(rng):
    torch = pytest.importorskip("torch")
    y, t = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    for reduction in ("mean", "sum"):
        loss = MSELoss(reduction)
        ty = torch.tensor(y, requires_grad=True)
        tl = torch.nn.functional.mse_loss(ty, torch.tensor(t), reduction=reduction)
        tl.backward()
        assert loss(y, t) == pytest.approx(tl.item(), rel=1e-12)
        np.testing.assert_allclose(loss.backward(), ty.grad.numpy(), rtol=1e-12)


def test_squared_error_by_hand():
    # "Deep Learning from Scratch" 4.2.1: y = softmax output, t = one-hot of 2.
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], np.float64)
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    loss = SquaredError()
    assert loss(y, t) == pytest.approx(0.0975, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), y - t, rtol=1e-15)
    y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    assert loss(y2, t) == pytest.approx(0.5975, rel=1e-12)


@pytest.mark.parametrize("loss", [MSELoss(), MSELoss("sum"), SquaredError()], ids=repr)
def test_regression_loss_bad_input(loss):
    name = type(loss).__name__
    with pytest.raises(ValueError, match=rf"{name}.*prediction \(4, 2\), target \(3, 2\)"):
        loss(np.zeros((4, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=rf"{name}.*prediction \(4, 2\), target \(4,\)"):
        loss(np.zeros((4, 2)), np.zeros(4))  # no silent broadcasting
    with pytest.raises(ValueError, match=f"{name}: empty batch"):
        loss(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(TypeError, match=name):
        loss(np.zeros(2), np.array([1j, 2j]))


def test_mse_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        MSELoss("none")


# --- gradient checks ----------------------------------------------------------


def test_gradcheck_softmax_cross_entropy(rng):
    labels = np.array([0, 2, 1, 2, 2])
    loss = SoftmaxCrossEntropy()
    assert gradcheck(lambda s: loss(s, labels), rng.standard_normal((5, 3)),
                     backward=lambda d: d * loss.backward())


@pytest.mark.parametrize("loss", [MSELoss(), MSELoss("sum"), SquaredError()], ids=repr)
def test_gradcheck_regression_losses(loss, rng):
    t = rng.standard_normal((4, 3))
    assert gradcheck(lambda y: loss(y, t), rng.standard_normal((4, 3)),
                     backward=lambda d: d * loss.backward())


def test_gradcheck_network_with_loss(rng):
    # The whole CS231n objective: data loss + L2 penalty, through a 2-layer net.
    net = nn.Sequential(nn.Linear(2, 6, dtype=np.float64, rng=0), nn.Tanh(),
                        nn.Linear(6, 3, dtype=np.float64, rng=1))
    labels = np.array([0, 1, 2, 1])
    loss = SoftmaxCrossEntropy()

    class Objective(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return loss(self.net(x), labels) + l2_penalty(self.net, 1e-1)

        def backward(self, dout):
            return self.net.backward(dout * loss.backward())

    # l2_penalty adds reg * W into .grad as a side effect of the forward pass, so the
    # objective is checked at dout = 1 by hand rather than with gradcheck's random dout.
    obj = Objective()
    x = rng.standard_normal((4, 2))
    obj.zero_grad()
    value = obj(x)
    obj.backward(1.0)
    analytic = [p.grad.copy() for p in obj.parameters()]
    eps = 1e-6
    for p, g in zip(obj.parameters(), analytic):
        num = np.zeros_like(p.data)
        for j in range(p.data.size):
            orig = p.data.flat[j]
            p.data.flat[j] = orig + eps
            plus = obj(x)
            p.data.flat[j] = orig - eps
            minus = obj(x)
            p.data.flat[j] = orig
            num.flat[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)
    assert obj(x) == value


# --- l2_penalty -----------------------------------------------------------------


def test_l2_penalty(dtype, rng):
    net = nn.Sequential(nn.Linear(3, 4, dtype=dtype, rng=0), nn.ReLU(),
                        nn.Linear(4, 2, dtype=dtype, rng=1))
    net[0].bias.data[...] = 1.0  # biases are not penalised
    w1, w2 = net[0].weight.data.astype(np.float64), net[2].weight.data.astype(np.float64)
    reg = 1e-3
    value = l2_penalty(net, reg)
    assert value == pytest.approx(0.5 * reg * (np.sum(w1**2) + np.sum(w2**2)),
                                  rel=tolerance(dtype)["rtol"])
    np.testing.assert_allclose(net[0].weight.grad, reg * w1, **tolerance(dtype))
    np.testing.assert_allclose(net[2].weight.grad, reg * w2, **tolerance(dtype))
    assert not net[0].bias.grad.any() and not net[2].bias.grad.any()
    l2_penalty(net, reg)  # accumulates
    np.testing.assert_allclose(net[0].weight.grad, 2 * reg * w1, **tolerance(dtype))
    assert l2_penalty(net, 0.0) == 0.0


def test_l2_penalty_matches_reference_op(rng):
    w = rng.standard_normal((70, 130))
    g1 = rng.standard_normal(w.shape)
    g2 = g1.copy()
    v1 = ops.l2_penalty_accumulate(g1, w, 0.3)
    v2 = reference.l2_penalty_accumulate(g2, w, 0.3)
    assert v1 == pytest.approx(v2, rel=1e-12)
    np.testing.assert_array_equal(g1, g2)


def test_l2_penalty_bad_input():
    with pytest.raises(TypeError, match="Module"):
        l2_penalty([np.zeros(2)], 1.0)
    with pytest.raises(ValueError, match="reg"):
        l2_penalty(nn.Linear(2, 2), -1.0)


def test_exports():
    for name in ("SoftmaxCrossEntropy", "MSELoss", "SquaredError", "l2_penalty"):
        assert hasattr(losses, name)
