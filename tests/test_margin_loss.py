"""MultiMarginLoss (multiclass SVM hinge): the op against its NumPy twin, the
CS231n numbers, gradient checks away from the kinks, torch parity, bad input."""

import numpy as np
import pytest
from support import num_threads, tolerance

import fastbp
from fastbp import ops, reference
from fastbp.losses import MultiMarginLoss

CONFIGS = [{}, {"p": 2}, {"margin": 0.5}, {"reduction": "sum"},
           {"p": 2, "margin": 2.0, "reduction": "sum"}]


def away_from_kinks(scores, labels, margin=1.0, gap=1e-3):
    """Moves every score whose margin term sits within `gap` of its kink."""
    rows = np.arange(len(labels))
    z = margin - scores[rows, labels][:, None] + scores
    near = np.abs(z) < gap
    near[rows, labels] = False
    return scores + near * 4 * gap


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (17, 10), (64, 1)], ids=str)
def test_op_matches_reference(cfg, shape, dtype, rng):
    scores = rng.standard_normal(shape).astype(dtype)
    labels = rng.integers(0, shape[1], shape[0])
    loss, d = ops.multi_margin_loss(scores, labels, **cfg)
    loss_ref, d_ref = reference.multi_margin_loss(scores, labels, **cfg)
    assert isinstance(loss, float) and d.dtype == dtype and d.shape == shape
    np.testing.assert_allclose(loss, loss_ref, **tolerance(dtype))
    np.testing.assert_allclose(d, d_ref, **tolerance(dtype))


def test_cs231n_example():
    # CS231n's linear-classification notes: scores [3.2, 5.1, -1.7] for the cat
    # (label 0) give max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9.
    # PyTorch's MultiMarginLoss divides by C = 3.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    labels = np.array([0, 1, 2])
    loss = MultiMarginLoss()
    per_row_cs231n = [2.9, 0.0, 12.9]  # the notes' three examples
    assert loss(scores, labels) == pytest.approx(np.mean(per_row_cs231n) / 3, rel=1e-14)
    d = loss.backward()
    # Row 0: classes 1 violates (z = 2.9), class 2 does not (z = -3.9).
    np.testing.assert_allclose(d[0], np.array([-1, 1, 0]) / 9, rtol=1e-15)
    np.testing.assert_array_equal(d[1], 0.0)
    np.testing.assert_allclose(d[2], np.array([1, 1, -2]) / 9, rtol=1e-15)


def test_kink_has_zero_gradient():
    # z = 1 - 2 + 1 = 0 exactly: no loss and no gradient, as in PyTorch.
    loss = MultiMarginLoss()
    assert loss(np.array([[2.0, 1.0]]), np.array([0])) == 0.0
    np.testing.assert_array_equal(loss.backward(), 0.0)


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_gradcheck(cfg, rng):
    scores = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    scores = away_from_kinks(scores, labels, cfg.get("margin", 1.0))
    loss = MultiMarginLoss(**cfg)
    assert fastbp.gradcheck(lambda s: loss(s, labels), scores,
                            backward=lambda dout: dout * loss.backward())


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_matches_torch(cfg, rng):
    torch = pytest.importorskip("torch")
    scores = rng.standard_normal((9, 5)) * 2
    labels = rng.integers(0, 5, 9)
    scores = away_from_kinks(scores, labels, cfg.get("margin", 1.0))
    loss = MultiMarginLoss(**cfg)
    value = loss(scores, labels)
    ts = torch.tensor(scores, requires_grad=True)
    tvalue = torch.nn.MultiMarginLoss(**cfg)(ts, torch.tensor(labels))
    tvalue.backward()
    assert value == pytest.approx(tvalue.item(), rel=1e-13)
    np.testing.assert_allclose(loss.backward(), ts.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_matches_torch_float32(rng):
    torch = pytest.importorskip("torch")
    scores = rng.standard_normal((50, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 50)
    loss = MultiMarginLoss()
    value = loss(scores, labels)
    ts = torch.tensor(scores, requires_grad=True)
    tvalue = torch.nn.MultiMarginLoss()(ts, torch.tensor(labels))
    tvalue.backward()
    assert value == pytest.approx(tvalue.item(), rel=1e-5)
    np.testing.assert_allclose(loss.backward(), ts.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_threads_bitwise(rng):
    scores = rng.standard_normal((5000, 20)).astype(np.float32)
    labels = rng.integers(0, 20, 5000)
    with num_threads(1):
        a = ops.multi_margin_loss(scores, labels)
    with num_threads(2):
        b = ops.multi_margin_loss(scores, labels)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_trains_a_linear_classifier(rng):
    # Three separable blobs: the hinge loss reaches zero-ish and full accuracy.
    centers = np.array([[3.0, 0.0], [-3.0, 3.0], [0.0, -3.0]])
    labels = np.repeat(np.arange(3), 30)
    x = centers[labels] + 0.3 * rng.standard_normal((90, 2))
    model = fastbp.nn.Linear(2, 3, dtype=np.float64, rng=0)
    loss = MultiMarginLoss()
    opt = fastbp.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(100):
        opt.zero_grad()
        value = loss(model(x), labels)
        model.backward(loss.backward())
        opt.step()
    assert value < 0.01
    assert (model(x).argmax(1) == labels).all()


def test_bad_input():
    loss = MultiMarginLoss()
    s = np.zeros((3, 4))
    cases = [
        (lambda: loss(s, np.array([0, 1, 4])), ValueError,
         r"MultiMarginLoss: labels\[2\] = 4 is outside \[0, 4\)"),
        (lambda: loss(s, np.array([0, -1, 0])), ValueError, "outside"),
        (lambda: loss(s, np.array([0, 1])), ValueError, r"labels must have shape \(N,\) = \(3,\)"),
        (lambda: loss(s, np.array([0.0, 1.0, 2.0])), TypeError, "labels must be integers"),
        (lambda: loss(np.zeros(4), np.array([0])), ValueError, "2-D"),
        (lambda: loss(np.zeros((0, 4)), np.zeros(0, np.int64)), ValueError, "empty batch"),
        (lambda: loss(np.zeros((2, 0)), np.zeros(2, np.int64)), ValueError, "no classes"),
        (lambda: loss(np.array([["a"]]), np.array([0])), TypeError, "real-valued"),
        (lambda: MultiMarginLoss(p=3), ValueError, "p must be 1 or 2"),
        (lambda: MultiMarginLoss(margin=float("nan")), ValueError, "margin"),
        (lambda: MultiMarginLoss(reduction="none"), ValueError, "reduction"),
        (lambda: ops.multi_margin_loss(s, np.zeros(3, np.int64), p=0), ValueError, "p must"),
        (lambda: ops.multi_margin_loss(s, np.zeros(3, np.int64), reduction="max"), ValueError,
         "reduction"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
    with pytest.raises(RuntimeError, match="before forward"):
        MultiMarginLoss().backward()
    assert repr(loss) == "MultiMarginLoss(p=1, margin=1.0, reduction='mean')"
