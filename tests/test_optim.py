"""fastbp.optim and the fused update op: against the NumPy reference and torch.optim.SGD."""

import numpy as np
import pytest
from support import num_threads

import fastbp
from fastbp import nn, ops, optim, reference
from fastbp.nn import Parameter
from fastbp.optim import SGD

CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.05, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1},
    {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-3},
]


# --- the op -------------------------------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("shape", [(1,), (3, 5), (7, 1, 9), (0, 4), (300, 700)])
def test_sgd_update_matches_reference(cfg, shape, dtype, rng):
    p = rng.standard_normal(shape).astype(dtype)
    buf = rng.standard_normal(shape).astype(dtype)
    p_ref, buf_ref = p.copy(), buf.copy()
    for _ in range(3):
        g = rng.standard_normal(shape).astype(dtype)
        assert ops.sgd_update(p, g, buf, **cfg) is None
        reference.sgd_update(p_ref, g, buf_ref, **cfg)
    # Same formulas, same rounding order, each step rounded to dtype: bitwise equal.
    np.testing.assert_array_equal(p, p_ref)
    np.testing.assert_array_equal(buf, buf_ref)


def test_sgd_update_by_hand():
    p = np.array([1.0, -2.0])
    g = np.array([0.5, 0.5])
    ops.sgd_update(p, g, None, lr=0.1)
    np.testing.assert_allclose(p, [0.95, -2.05], rtol=1e-15)
    buf = np.zeros(2)
    ops.sgd_update(p, g, buf, lr=0.1, momentum=0.9)  # buf = g
    np.testing.assert_allclose(buf, g)
    ops.sgd_update(p, g, buf, lr=0.1, momentum=0.9)  # buf = 0.9 g + g
    np.testing.assert_allclose(buf, 1.9 * g, rtol=1e-15)
    np.testing.assert_allclose(p, [0.95 - 0.1 * 0.5 * 2.9, -2.05 - 0.1 * 0.5 * 2.9], rtol=1e-15)


def test_sgd_update_ignores_buf_without_momentum():
    p, g, buf = np.ones(3), np.ones(3), np.full(3, 7.0)
    ops.sgd_update(p, g, buf, lr=1.0)
    np.testing.assert_array_equal(buf, 7.0)
    np.testing.assert_array_equal(p, 0.0)


def test_sgd_update_threads_bitwise(rng):
    shape = (1000, 400)  # large enough to split over two threads
    g = rng.standard_normal(shape).astype(np.float32)
    results = []
    for n in (1, 2):
        p = np.ones(shape, np.float32)
        buf = np.zeros(shape, np.float32)
        with num_threads(n):
            for _ in range(2):
                ops.sgd_update(p, g, buf, lr=0.1, momentum=0.9, weight_decay=0.01)
        results.append((p, buf))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_sgd_update_many_matches_reference(cfg, dtype, rng):
    shapes = [(3, 5), (5,), (0, 4), (300, 70)]
    ps = [rng.standard_normal(s).astype(dtype) for s in shapes]
    bufs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ps_ref, bufs_ref = [p.copy() for p in ps], [b.copy() for b in bufs]
    for _ in range(3):
        gs = [rng.standard_normal(s).astype(dtype) for s in shapes]
        assert ops.sgd_update_many(ps, gs, bufs, **cfg) is None
        reference.sgd_update_many(ps_ref, gs, bufs_ref, **cfg)
    for got, want in zip(ps + bufs, ps_ref + bufs_ref):
        np.testing.assert_array_equal(got, want)  # same formulas and rounding order


def test_sgd_update_many_mixed_dtypes_and_tuples(rng):
    ps = (np.ones(3, np.float32), np.ones((2, 2), np.float64))
    gs = (np.full(3, 0.5, np.float32), np.full((2, 2), 2.0))
    ops.sgd_update_many(ps, gs, None, lr=0.5)
    np.testing.assert_array_equal(ps[0], np.full(3, 0.75, np.float32))
    np.testing.assert_array_equal(ps[1], np.zeros((2, 2)))


def test_sgd_update_many_checks_everything_before_updating():
    good_p, good_g = np.ones(3), np.ones(3)
    readonly = np.ones(2)
    readonly.flags.writeable = False
    cases = [
        (lambda: ops.sgd_update_many([good_p, readonly], [good_g, np.ones(2)], None, lr=1.0),
         ValueError, r"params\[1\] must be writable"),
        (lambda: ops.sgd_update_many([good_p, np.ones(2)], [good_g, np.ones(3)], None, lr=1.0),
         ValueError, r"grads\[1\] must have shape \(2,\)"),
        (lambda: ops.sgd_update_many([good_p], [good_g, good_g], None, lr=1.0), ValueError,
         "same length"),
        (lambda: ops.sgd_update_many([good_p], [good_g], None, lr=1.0, momentum=0.9), ValueError,
         "bufs .* required"),
        (lambda: ops.sgd_update_many([good_p], [good_g], [np.zeros(2)], lr=1.0, momentum=0.9),
         ValueError, r"bufs\[0\] must have shape"),
        (lambda: ops.sgd_update_many([good_p], [good_g], [None], lr=1.0, momentum=0.9), TypeError,
         r"bufs\[0\]"),
        (lambda: ops.sgd_update_many(good_p, [good_g], None, lr=1.0), TypeError,
         "params must be a list or tuple"),
        (lambda: ops.sgd_update_many([good_p], [[1.0, 2.0, 3.0]], None, lr=1.0), TypeError,
         r"grads\[0\]"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
        np.testing.assert_array_equal(good_p, 1.0)  # the valid first entry was not updated


def test_sgd_update_bad_input():
    p = np.zeros((4, 3))
    g = np.zeros((4, 3))
    buf = np.zeros((4, 3))
    readonly = np.zeros((4, 3))
    readonly.flags.writeable = False
    cases = [
        (lambda: ops.sgd_update(np.zeros((3, 4)).T, g, None, lr=1.0), ValueError,
         "param must be a C-contiguous"),
        (lambda: ops.sgd_update(readonly, g, None, lr=1.0), ValueError, "param must be writable"),
        (lambda: ops.sgd_update(p, np.zeros((3, 4)).T, None, lr=1.0), ValueError,
         "grad must be a C-contiguous"),
        (lambda: ops.sgd_update(p, g.astype(np.float32), None, lr=1.0), TypeError, "same dtype"),
        (lambda: ops.sgd_update(p, np.zeros(12), None, lr=1.0), ValueError,
         r"grad must have shape \(4, 3\)"),
        (lambda: ops.sgd_update(p, g, None, lr=1.0, momentum=0.9), ValueError,
         "buf .* required"),
        (lambda: ops.sgd_update(p, g, readonly, lr=1.0, momentum=0.9), ValueError,
         "buf must be writable"),
        (lambda: ops.sgd_update(p, g, np.zeros(3), lr=1.0, momentum=0.9), ValueError,
         "buf must have shape"),
        (lambda: ops.sgd_update(p.astype(np.int64), g, None, lr=1.0), TypeError, "param"),
        (lambda: ops.sgd_update([0.0], g, None, lr=1.0), TypeError, "param"),
        (lambda: ops.sgd_update(p, g, buf), TypeError, "lr"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
    assert not p.any() and not buf.any()
    # grad may be read-only: it is only read.
    ops.sgd_update(p, readonly, None, lr=1.0)


def test_l2_penalty_accumulate_bad_input():
    with pytest.raises(ValueError, match="grad must be writable"):
        g = np.zeros(3)
        g.flags.writeable = False
        ops.l2_penalty_accumulate(g, np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="grad must have shape"):
        ops.l2_penalty_accumulate(np.zeros(4), np.zeros(3), 1.0)


# --- the optimizer --------------------------------------------------------------


def make_params(rng, dtype=np.float64):
    shapes = [(3, 4), (4,), (4, 2), (2,)]
    return [Parameter(rng.standard_normal(s).astype(dtype), name=f"p{i}")
            for i, s in enumerate(shapes)]


def run_sgd(params, grads_per_step, cfg):
    opt = SGD(params, **cfg)
    for grads in grads_per_step:
        opt.zero_grad()
        for p, g in zip(params, grads):
            p.grad += g
        opt.step()
    return opt


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_sgd_matches_reference_loop(cfg, dtype, rng):
    params = make_params(rng, dtype)
    ref = [p.data.copy() for p in params]
    bufs = [np.zeros_like(r) for r in ref]
    steps = [[rng.standard_normal(p.data.shape).astype(dtype) for p in params] for _ in range(5)]
    run_sgd(params, steps, cfg)
    for grads in steps:
        for r, b, g in zip(ref, bufs, grads):
            reference.sgd_update(r, g, b, **cfg)
    for p, r in zip(params, ref):
        np.testing.assert_array_equal(p.data, r)


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_sgd_matches_torch(cfg, rng):
    torch = pytest.importorskip("torch")
    params = make_params(rng)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = torch.optim.SGD(tparams, **cfg)
    opt = SGD(params, **cfg)
    for _ in range(6):
        grads = [rng.standard_normal(p.data.shape) for p in params]
        opt.zero_grad()
        topt.zero_grad()
        for p, t, g in zip(params, tparams, grads):
            p.grad += g
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, t in zip(params, tparams):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_sgd_matches_torch_float32(rng):
    torch = pytest.importorskip("torch")
    cfg = {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}
    params = make_params(rng, np.float32)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = torch.optim.SGD(tparams, **cfg)
    opt = SGD(params, **cfg)
    for _ in range(6):
        grads = [rng.standard_normal(p.data.shape).astype(np.float32) for p in params]
        for p, t, g in zip(params, tparams, grads):
            p.grad[...] = g
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sgd_trains_a_model(rng):
    # Full-batch regression y = 2x - 1: SGD with momentum recovers w and b.
    x = rng.standard_normal((200, 1))
    y = 2 * x - 1
    model = nn.Linear(1, 1, dtype=np.float64, rng=0)
    loss = fastbp.losses.MSELoss()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(200):
        opt.zero_grad()
        loss(model(x), y)
        model.backward(loss.backward())
        opt.step()
    assert model.weight.data[0, 0] == pytest.approx(2.0, abs=1e-3)
    assert model.bias.data[0] == pytest.approx(-1.0, abs=1e-3)
    assert opt.step_count == 200


def test_zero_grad(rng):
    params = make_params(rng)
    for p in params:
        p.grad += 1
    grads = [p.grad for p in params]
    SGD(params, lr=0.1).zero_grad()
    assert all(p.grad is g and not g.any() for p, g in zip(params, grads))


@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        ({"lr": -0.1}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"lr": 0.1, "momentum": -0.5}, ValueError, "momentum"),
        ({"lr": 0.1, "weight_decay": -1.0}, ValueError, "weight_decay"),
        ({"lr": 0.1, "nesterov": True}, ValueError, "Nesterov"),
    ],
)
def test_sgd_bad_hyperparameters(kwargs, exc, msg, rng):
    with pytest.raises(exc, match=msg):
        SGD(make_params(rng), **kwargs)


def test_sgd_bad_params(rng):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="model.parameters"):
        SGD(model, lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        SGD([model.weight, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([model.weight, model.weight], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        SGD(3, lr=0.1)


# --- state_dict -------------------------------------------------------------------


def test_sgd_state_dict_resumes_bitwise(rng):
    cfg = {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}
    steps = [[rng.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,)]] for _ in range(6)]
    straight = make_params(np.random.default_rng(1))
    run_sgd(straight, steps, cfg)

    first = make_params(np.random.default_rng(1))
    opt = run_sgd(first, steps[:3], cfg)
    state = opt.state_dict()
    assert list(state)[:6] == ["optimizer", "lr", "momentum", "nesterov", "weight_decay", "step"]
    assert state["step"] == 3
    assert [k for k in state if k.startswith("state.")] == [
        f"state.{i}.momentum_buffer" for i in range(4)]
    assert not np.shares_memory(state["state.0.momentum_buffer"], opt.state[0]["momentum_buffer"])
    # As np.savez / np.load would give it back: scalars as 0-d arrays.
    state = {k: np.asarray(v) for k, v in state.items()}

    resumed = [Parameter(p.data.copy(), p.name) for p in first]
    opt2 = SGD(resumed, lr=1.0)  # hyperparameters come from the state
    opt2.load_state_dict(state)
    assert opt2.hyper == opt.hyper and opt2.step_count == 3
    for grads in steps[3:]:
        opt2.zero_grad()
        for p, g in zip(resumed, grads):
            p.grad += g
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_sgd_state_dict_without_momentum(rng):
    opt = SGD(make_params(rng), lr=0.1)
    state = opt.state_dict()
    assert dict(state) == {"optimizer": "SGD", "lr": 0.1, "momentum": 0.0, "nesterov": False,
                           "weight_decay": 0.0, "step": 0}


def test_sgd_load_state_dict_rejects_bad_state(rng):
    params = make_params(rng)
    opt = SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad += 1
    opt.step()
    good = opt.state_dict()
    before = opt.state_dict()

    def variant(**changes):
        d = dict(good)
        for k, v in changes.items():
            if v is None:
                del d[k]
            else:
                d[k] = v
        return d

    cases = [
        (variant(**{"state.2.momentum_buffer": None}), ValueError, "missing keys"),
        (variant(**{"state.4.momentum_buffer": np.zeros(2)}), ValueError, "unexpected keys"),
        (variant(extra=1), ValueError, "unexpected keys.*extra"),
        (variant(lr=None), ValueError, "missing keys.*lr"),
        (variant(**{"state.1.momentum_buffer": np.zeros(5)}), ValueError,
         r"state.1.momentum_buffer.*\(5,\).*\(4,\)"),
        (variant(lr=-1.0), ValueError, "lr"),
        (variant(lr=np.zeros(2)), ValueError, "scalar"),
        (variant(lr="fast"), TypeError, "lr"),
        (variant(step=-1), ValueError, "step"),
        (variant(momentum=0.0, nesterov=True), ValueError, "Nesterov"),
        (variant(**{"state.0.momentum_buffer": np.array([["a"] * 4] * 3)}), TypeError,
         "state.0"),
        ("state", TypeError, "mapping"),
    ]
    for state, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            opt.load_state_dict(state)
        after = opt.state_dict()
        assert list(after) == list(before)
        for k in before:
            np.testing.assert_array_equal(after[k], before[k])
    # A state for a model with fewer parameters is rejected too.
    small = SGD(make_params(rng)[:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="unexpected keys.*state.2"):
        small.load_state_dict(good)


def test_momentum_switched_on_by_load(rng):
    params = make_params(rng)
    opt = SGD(params, lr=0.1)
    donor = SGD(make_params(rng), lr=0.1, momentum=0.5)
    opt.load_state_dict(donor.state_dict())
    assert opt.hyper["momentum"] == 0.5 and "momentum_buffer" in opt.state[0]
    opt.step()


def test_repr_and_exports(rng):
    opt = SGD(make_params(rng), lr=0.1, momentum=0.9)
    assert repr(opt) == "SGD(4 parameters, lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)"
    assert fastbp.optim is optim and optim.SGD is SGD
    opt.lr = 0.01
    assert opt.hyper["lr"] == 0.01
