"""BatchNorm1d / BatchNorm2d: the ops against the NumPy reference, gradient
checks in float64, parity with torch.nn.BatchNorm1d/2d, determinism, bad input."""

import copy
import pickle

import numpy as np
import pytest
from support import num_threads, tolerance

import fastbp
from fastbp import nn, ops, reference
from fastbp.nn import BatchNorm1d, BatchNorm2d

SHAPES = [(7, 3), (2, 5), (4, 3, 6), (3, 4, 5, 2), (2, 1, 3, 3)]


def _channel_arrays(rng, c, dtype):
    gamma = (rng.standard_normal(c) + 1).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    return gamma, beta, rm, rv


# --- the ops --------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_ops_match_reference(shape, training, affine, dtype, rng):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma, beta, rm, rv = _channel_arrays(rng, shape[1], dtype)
    if not affine:
        gamma = beta = None
    rm_ref, rv_ref = rm.copy(), rv.copy()
    tol = tolerance(dtype)
    y, mean, invstd = ops.batchnorm_forward(x, gamma, beta, rm, rv, training=training,
                                            momentum=0.3, eps=1e-3)
    y_ref, mean_ref, invstd_ref = reference.batchnorm_forward(
        x, gamma, beta, rm_ref, rv_ref, training=training, momentum=0.3, eps=1e-3)
    assert y.dtype == mean.dtype == invstd.dtype == dtype and y.shape == shape
    for a, b in [(y, y_ref), (mean, mean_ref), (invstd, invstd_ref), (rm, rm_ref),
                 (rv, rv_ref)]:
        np.testing.assert_allclose(a, b, **tol)
    c = shape[1]
    gg, bg = np.full(c, 0.5, dtype), np.full(c, -0.5, dtype)  # accumulated into (+=)
    gg_ref, bg_ref = gg.copy(), bg.copy()
    dx = ops.batchnorm_backward(dout, x, mean, invstd, gamma, gg, bg, training=training)
    dx_ref = reference.batchnorm_backward(dout, x, mean_ref, invstd_ref, gamma, gg_ref, bg_ref,
                                          training=training)
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose(gg, gg_ref, **tol)
    np.testing.assert_allclose(bg, bg_ref, **tol)


def test_forward_by_hand():
    x = np.array([[1.0, 10.0], [3.0, 14.0]])
    rm, rv = np.zeros(2), np.ones(2)
    y, mean, invstd = ops.batchnorm_forward(x, None, None, rm, rv, training=True, eps=0.0)
    np.testing.assert_allclose(mean, [2.0, 12.0])
    np.testing.assert_allclose(invstd, [1.0, 0.5])  # biased variances 1 and 4
    np.testing.assert_allclose(y, [[-1.0, -1.0], [1.0, 1.0]])
    # Running stats: momentum 0.1, unbiased variances (2 values: 1 * 2 / 1 = 2, 4 * 2 = 8).
    np.testing.assert_allclose(rm, [0.2, 1.2])
    np.testing.assert_allclose(rv, [0.9 + 0.2, 0.9 + 0.8])
    gg, bg = np.zeros(2), np.zeros(2)
    dx = ops.batchnorm_backward(np.array([[1.0, 0.0], [0.0, 0.0]]), x, mean, invstd, None,
                                gg, bg)
    np.testing.assert_allclose(bg, [1.0, 0.0])
    np.testing.assert_allclose(gg, [-1.0, 0.0])  # dout * xhat = 1 * -1
    # dx = invstd * (dout - mean(dout) - xhat * mean(dout * xhat)) = (1 - .5 - .5, 0 - .5 + .5)
    np.testing.assert_allclose(dx, [[0.0, 0.0], [0.0, 0.0]], atol=1e-15)


def test_constant_channel_is_finite():
    x = np.full((4, 2), 5.0, np.float32)
    y, _, invstd = ops.batchnorm_forward(x, None, None, None, None, training=True)
    assert np.isfinite(invstd).all() and not y.any()  # eps keeps 1/sqrt(var + eps) finite


def test_threads_bitwise(rng):
    # Large enough to split over two threads, with an odd number of rows per chunk.
    for shape in [(3000, 70), (37, 16, 20, 20)]:
        x = rng.standard_normal(shape).astype(np.float32)
        dout = rng.standard_normal(shape).astype(np.float32)
        c = shape[1]
        results = []
        for n in (1, 2):
            rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
            gg, bg = np.zeros(c, np.float32), np.zeros(c, np.float32)
            with num_threads(n):
                y, mean, invstd = ops.batchnorm_forward(x, None, None, rm, rv, training=True)
                dx = ops.batchnorm_backward(dout, x, mean, invstd, None, gg, bg)
            results.append((y, mean, invstd, rm, rv, dx, gg, bg))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


def test_ops_bad_input():
    x = np.zeros((4, 3))
    c3 = np.zeros(3)
    readonly = np.zeros(3)
    readonly.flags.writeable = False
    cases = [
        (lambda: ops.batchnorm_forward(np.zeros(3), None, None, None, None, training=True),
         ValueError, "at least 2 dimensions"),
        (lambda: ops.batchnorm_forward(x, np.zeros(2), None, None, None, training=True),
         ValueError, r"gamma must have shape \(3,\)"),
        (lambda: ops.batchnorm_forward(x, None, None, c3, None, training=True), ValueError,
         "both"),
        (lambda: ops.batchnorm_forward(x, None, None, readonly, c3, training=True), ValueError,
         "running_mean must be a writable"),
        (lambda: ops.batchnorm_forward(x, None, None, None, None, training=False), ValueError,
         "needs running_mean"),
        (lambda: ops.batchnorm_forward(np.zeros((1, 3)), None, None, None, None, training=True),
         ValueError, "more than 1 value per channel"),
        (lambda: ops.batchnorm_forward(x, None, None, None, None, training=True, eps=-1.0),
         ValueError, "eps"),
        (lambda: ops.batchnorm_forward(x, None, None, None, None, training=True, momentum=2.0),
         ValueError, "momentum"),
        (lambda: ops.batchnorm_forward(x, np.zeros(3, np.float32), None, None, None,
                                       training=True), TypeError, "same dtype"),
        (lambda: ops.batchnorm_backward(np.zeros((4, 2)), x, c3, c3, None, None, None),
         ValueError, r"dout must have shape \(4, 3\)"),
        (lambda: ops.batchnorm_backward(x, x, c3, np.zeros(4), None, None, None), ValueError,
         "invstd"),
        (lambda: ops.batchnorm_backward(x, x, c3, c3, None, readonly, None), ValueError,
         "gamma_grad must be a writable"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()


# --- the modules: gradient checks -------------------------------------------------


@pytest.mark.parametrize("cls,shape", [(BatchNorm1d, (5, 3)), (BatchNorm1d, (3, 2, 4)),
                                       (BatchNorm2d, (2, 3, 3, 2))], ids=str)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradcheck(cls, shape, mode, rng):
    bn = cls(shape[1], dtype=np.float64)
    bn.weight.data[...] = rng.standard_normal(shape[1]) + 1
    bn.bias.data[...] = rng.standard_normal(shape[1])
    bn.running_mean[...] = rng.standard_normal(shape[1])
    bn.running_var[...] = rng.uniform(0.5, 2, shape[1])
    if mode == "eval":
        bn.eval()
    x = rng.standard_normal(shape) * 2 + 1
    assert fastbp.gradcheck(bn, x)


def test_gradcheck_without_affine(rng):
    assert fastbp.gradcheck(BatchNorm2d(2, affine=False, dtype=np.float64),
                            rng.standard_normal((3, 2, 2, 2)))


# --- the modules: against PyTorch --------------------------------------------------


def _torch_bn(torch, cls, c, **kw):
    tbn = getattr(torch.nn, cls.__name__)(c, dtype=torch.float64, **kw)
    return tbn


@pytest.mark.parametrize("cls,shape", [(BatchNorm1d, (8, 4)), (BatchNorm1d, (5, 3, 7)),
                                       (BatchNorm2d, (4, 3, 5, 6))], ids=str)
@pytest.mark.parametrize("momentum", [0.1, None], ids=["m0.1", "cma"])
def test_matches_torch(cls, shape, momentum, rng):
    torch = pytest.importorskip("torch")
    c = shape[1]
    bn = cls(c, momentum=momentum, dtype=np.float64)
    tbn = _torch_bn(torch, cls, c, momentum=momentum)
    gamma, beta = rng.standard_normal(c) + 1, rng.standard_normal(c)
    bn.weight.data[...] = gamma
    bn.bias.data[...] = beta
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(gamma))
        tbn.bias.copy_(torch.tensor(beta))
    tol = {"rtol": 1e-10, "atol": 1e-12}
    for mode in ["train", "train", "train", "eval"]:
        bn.train(mode == "train")
        tbn.train(mode == "train")
        x = rng.standard_normal(shape) * 3 - 1
        dout = rng.standard_normal(shape)
        bn.zero_grad()
        y = bn(x)
        dx = bn.backward(dout)
        tx = torch.tensor(x, requires_grad=True)
        tbn.zero_grad()
        ty = tbn(tx)
        ty.backward(torch.tensor(dout))
        np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
        np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
        np.testing.assert_allclose(bn.weight.grad, tbn.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(bn.bias.grad, tbn.bias.grad.numpy(), **tol)
        np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), **tol)
        np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), **tol)
        assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked)


def test_matches_torch_float32_and_state_dict(rng):
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm2d(3)
    x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32)
    tbn(torch.tensor(x))  # one training step moves the running statistics
    with torch.no_grad():
        tbn.weight.uniform_(0.5, 1.5)
        tbn.bias.uniform_(-1, 1)
    tstate = {k: v.numpy() for k, v in tbn.state_dict().items()}
    bn = BatchNorm2d(3)
    assert list(bn.state_dict()) == list(tstate)  # PyTorch's keys, in its order
    bn.load_state_dict(tstate)
    for mode in (False, True):
        bn.train(mode)
        tbn.train(mode)
        x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32)
        np.testing.assert_allclose(bn(x), tbn(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-5)


def test_without_running_stats_matches_torch(rng):
    torch = pytest.importorskip("torch")
    bn = BatchNorm1d(3, track_running_stats=False, dtype=np.float64).eval()
    tbn = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=torch.float64).eval()
    x = rng.standard_normal((5, 3))
    np.testing.assert_allclose(bn(x), tbn(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert list(bn.state_dict()) == ["weight", "bias"]


# --- the modules: behaviour and bad input ---------------------------------------------


def test_module_defaults_and_repr():
    bn = BatchNorm1d(4)
    assert (bn.eps, bn.momentum, bn.affine) == (1e-5, 0.1, True)
    assert [p.name for p in bn.parameters()] == ["weight", "bias"]
    assert bn.weight.data.dtype == np.float32 and (bn.weight.data == 1).all()
    assert (bn.running_var == 1).all() and not bn.running_mean.any()
    assert repr(bn) == ("BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, "
                        "track_running_stats=True)")
    assert "dtype=float64" in repr(BatchNorm2d(2, dtype=np.float64))
    net = nn.Sequential(nn.Linear(3, 4), BatchNorm1d(4), nn.ReLU())
    assert [n for n, _ in net.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]


def test_eval_uses_running_stats_and_does_not_update(rng):
    bn = BatchNorm1d(2, dtype=np.float64)
    x = rng.standard_normal((10, 2)) * 4 + 7
    for _ in range(50):
        bn(x)
    np.testing.assert_allclose(bn.running_mean, x.mean(0), rtol=1e-2)
    bn.eval()
    before = bn.state_dict()
    y = bn(x[:1])  # a single sample works in eval mode
    assert y.shape == (1, 2)
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_module_copies(rng):
    bn = BatchNorm2d(2)
    bn(rng.standard_normal((2, 2, 3, 3)))
    for clone in (copy.deepcopy(bn), pickle.loads(pickle.dumps(bn))):
        np.testing.assert_array_equal(clone.running_mean, bn.running_mean)
        clone(rng.standard_normal((2, 2, 3, 3)))
        assert int(clone.num_batches_tracked) == 2 and int(bn.num_batches_tracked) == 1


def test_module_bad_input():
    with pytest.raises(ValueError, match=r"expected \(N, C\) or \(N, C, L\) with C = 3"):
        BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        BatchNorm2d(3)(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(np.zeros((1, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3)))
    bn = BatchNorm1d(3)
    bn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        bn.backward(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="dtype"):
        BatchNorm1d(3, dtype=np.int32)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm2d(0)
    with pytest.raises(TypeError, match="real-valued"):
        BatchNorm1d(2)(np.array([["a", "b"]]))
