"""AdaGrad, RMSprop, Adam, AdamW: fused ops against the NumPy reference, the
optimizers against torch.optim step by step, state dicts, bad input."""

import numpy as np
import pytest
from support import num_threads

import fastbp
from fastbp import nn, ops, reference
from fastbp.nn import Parameter
from fastbp.optim import SGD, AdaGrad, Adagrad, Adam, AdamW, RMSprop

SHAPES = [(3, 4), (4,), (4, 2), (2,)]

# (fastbp class, torch name, constructor kwargs shared by both)
CASES = [
    (AdaGrad, "Adagrad", {}),
    (AdaGrad, "Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01}),
    (AdaGrad, "Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.3, "eps": 1e-6}),
    (RMSprop, "RMSprop", {}),
    (RMSprop, "RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.02}),
    (RMSprop, "RMSprop", {"lr": 0.005, "momentum": 0.9}),
    (RMSprop, "RMSprop", {"lr": 0.005, "centered": True}),
    (RMSprop, "RMSprop", {"lr": 0.001, "momentum": 0.5, "centered": True, "eps": 1e-6,
                          "weight_decay": 1e-3}),
    (Adam, "Adam", {}),
    (Adam, "Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.05}),
    (Adam, "Adam", {"lr": 0.01, "amsgrad": True}),
    (Adam, "Adam", {"lr": 0.002, "betas": (0.3, 0.5), "eps": 1e-4, "amsgrad": True,
                    "weight_decay": 1e-2}),
    (AdamW, "AdamW", {}),
    (AdamW, "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    (AdamW, "AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.5, 0.9)}),
]
CASE_IDS = [f"{cls.__name__}-{cfg}" for cls, _, cfg in CASES]


def make_params(rng, dtype=np.float64):
    return [Parameter(rng.standard_normal(s).astype(dtype), name=f"p{i}")
            for i, s in enumerate(SHAPES)]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad[...] = g


def random_grads(rng, dtype=np.float64):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


# --- the ops against their NumPy twins -----------------------------------------

OP_CASES = [
    ("adagrad_update", ("sum",), {"lr": 0.1}),
    ("adagrad_update", ("sum",), {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "eps": 1e-3}),
    ("rmsprop_update", ("square_avg",), {"lr": 0.01}),
    ("rmsprop_update", ("square_avg", "grad_avg", "buf"),
     {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("rmsprop_update", ("square_avg", None, "buf"), {"lr": 0.01, "momentum": 0.5}),
    ("adam_update", ("exp_avg", "exp_avg_sq"), {"lr": 0.01}),
    ("adam_update", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
     {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "beta1": 0.5}),
    ("adam_update", ("exp_avg", "exp_avg_sq"),
     {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
]


def _op_state(names, shape, dtype):
    # Square averages and sums must be >= 0; the centered grad_avg stays small
    # enough that square_avg - grad_avg**2 > 0.
    return [None if n is None else np.full(shape, 0.01 if n == "grad_avg" else 0.5, dtype)
            for n in names]


@pytest.mark.parametrize("name,state_names,cfg", OP_CASES, ids=[f"{c[0]}-{c[2]}" for c in OP_CASES])
@pytest.mark.parametrize("shape", [(1,), (7, 1, 9), (0, 4), (300, 500)])
def test_op_matches_reference_bitwise(name, state_names, cfg, shape, dtype, rng):
    fast, ref = getattr(ops, name), getattr(reference, name)
    stepped = name != "rmsprop_update"
    p = rng.standard_normal(shape).astype(dtype)
    p_ref = p.copy()
    state = _op_state(state_names, shape, dtype)
    state_ref = [None if s is None else s.copy() for s in state]
    for t in range(1, 4):
        g = rng.standard_normal(shape).astype(dtype)
        kw = dict(cfg, step=t) if stepped else cfg
        assert fast(p, g, *state, **kw) is None
        ref(p_ref, g, *state_ref, **kw)
    # The same formulas in the same order, element by element: bitwise equal.
    np.testing.assert_array_equal(p, p_ref)
    for s, s_ref in zip(state, state_ref):
        if s is not None:
            np.testing.assert_array_equal(s, s_ref)


MANY_SHAPES = [(1,), (7, 1, 9), (0, 4), (300, 500)]


@pytest.mark.parametrize("name,state_names,cfg", OP_CASES, ids=[f"{c[0]}-{c[2]}" for c in OP_CASES])
def test_op_many_matches_op_and_reference_bitwise(name, state_names, cfg, dtype, rng):
    # The *_many op runs the single op on each entry: the same bits as one call per
    # parameter, and as its NumPy twin.
    many, single, ref = (getattr(ops, name + "_many"), getattr(ops, name),
                         getattr(reference, name + "_many"))
    stepped = name != "rmsprop_update"
    params = [rng.standard_normal(s).astype(dtype) for s in MANY_SHAPES]
    states = [_op_state(state_names, s, dtype) for s in MANY_SHAPES]  # [param][state]
    copies = [([p.copy() for p in params], [[None if x is None else x.copy() for x in st]
                                            for st in states]) for _ in range(2)]
    for t in range(1, 4):
        grads = [rng.standard_normal(s).astype(dtype) for s in MANY_SHAPES]
        kw = dict(cfg, step=t) if stepped else cfg

        def columns(st):  # [param][state] -> one list (or None) per state
            return [None if n is None else [x[k] for x in st] for k, n in enumerate(state_names)]

        assert many(params, grads, *columns(states), **kw) is None
        for p, g, st in zip(copies[0][0], grads, copies[0][1]):
            single(p, g, *st, **kw)
        ref(copies[1][0], grads, *columns(copies[1][1]), **kw)
    for other_params, other_states in copies:
        for got, want in zip(params, other_params):
            np.testing.assert_array_equal(got, want)
        for st, other in zip(states, other_states):
            for x, y in zip(st, other):
                if x is not None:
                    np.testing.assert_array_equal(x, y)


def test_op_many_checks_everything_before_updating():
    good = np.ones(3)

    def adam(params, vs=None, vmaxs=None, **kw):
        n = len(params)
        vs = vs if vs is not None else [np.zeros(3) for _ in range(n)]
        ops.adam_update_many(params, [np.ones(3)] * n, [np.zeros(3) for _ in range(n)], vs,
                             vmaxs, step=1, **kw)

    readonly = np.ones(3)
    readonly.flags.writeable = False
    cases = [
        (lambda: adam([good, readonly]), ValueError, r"params\[1\] must be writable"),
        (lambda: adam([good, np.ones(3)], vs=[np.zeros(3), np.zeros(4)]), ValueError,
         r"exp_avg_sqs\[1\] must have shape \(3,\)"),
        (lambda: adam([good, np.ones(3, np.float32)]), TypeError, "same dtype"),
        (lambda: adam([good], vs=[np.zeros(3), np.zeros(3)]), ValueError, "same length"),
        (lambda: adam([good], amsgrad=True), ValueError, "max_exp_avg_sqs are required"),
        (lambda: adam([good], beta2=1.0), ValueError, "beta2"),
        (lambda: ops.adagrad_update_many([good], [good.copy()], [np.zeros(3)], step=0),
         ValueError, "step must be >= 1"),
        (lambda: ops.adagrad_update_many([good], [good.copy()], np.zeros(3), step=1), TypeError,
         "sums must be a list or tuple"),
        (lambda: ops.rmsprop_update_many([good], [good.copy()], [np.zeros(3)], centered=True),
         ValueError, "grad_avgs are required when centered"),
        (lambda: ops.rmsprop_update_many([good], [good.copy()], [np.zeros(3)], None, [None],
                                         momentum=0.5), TypeError, r"bufs\[0\]"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
        np.testing.assert_array_equal(good, 1.0)  # the valid first entry was not updated


@pytest.mark.parametrize("cls", [SGD, AdaGrad, RMSprop, Adam, AdamW])
def test_step_is_one_core_call_for_all_parameters(cls, rng, monkeypatch):
    many_name = {SGD: "sgd_update_many", AdaGrad: "adagrad_update_many",
                 RMSprop: "rmsprop_update_many"}.get(cls, "adam_update_many")
    calls = []
    real = getattr(ops, many_name)
    monkeypatch.setattr(ops, many_name, lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    kwargs = {"lr": 0.1} if cls is SGD else {}
    cls(make_params(rng), **kwargs).step()
    assert calls == [4]  # one call, carrying all four parameters


def test_ops_by_hand():
    # AdaGrad's first step from a zero sum moves each element by lr * sign(g).
    p, g, s = np.array([1.0, -1.0]), np.array([0.5, -2.0]), np.zeros(2)
    ops.adagrad_update(p, g, s, step=1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(p, [0.9, -0.9], rtol=1e-15)
    np.testing.assert_allclose(s, [0.25, 4.0])
    # So does Adam's (bias correction makes m_hat = g, v_hat = g**2).
    p, m, v = np.array([1.0, -1.0]), np.zeros(2), np.zeros(2)
    ops.adam_update(p, g, m, v, step=1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(p, [0.9, -0.9], rtol=1e-15)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-12)
    # RMSprop's: square_avg = (1 - alpha) g**2, step lr * g / (sqrt(0.01) |g|) = 10 lr sign(g).
    p, sq = np.array([1.0, -1.0]), np.zeros(2)
    ops.rmsprop_update(p, g, sq, lr=0.01, eps=0.0)
    np.testing.assert_allclose(p, [0.9, -0.9], rtol=1e-14)
    # AdamW's decay alone (zero gradient, zero moments): p *= 1 - lr * wd.
    p, m, v = np.array([2.0]), np.zeros(1), np.zeros(1)
    ops.adam_update(p, np.zeros(1), m, v, step=1, lr=0.1, weight_decay=0.5, eps=1.0,
                    decoupled_weight_decay=True)
    np.testing.assert_allclose(p, [2.0 * 0.95], rtol=1e-15)


def test_ops_threads_bitwise(rng):
    shape = (800, 400)  # large enough to split over two threads
    g = rng.standard_normal(shape).astype(np.float32)
    results = []
    for n in (1, 2):
        p = np.ones(shape, np.float32)
        m, v, vmax = (np.zeros(shape, np.float32) for _ in range(3))
        s, sq, ga, buf = (np.zeros(shape, np.float32) for _ in range(4))
        with num_threads(n):
            for t in (1, 2):
                ops.adam_update(p, g, m, v, vmax, step=t, amsgrad=True, weight_decay=0.1)
                ops.adagrad_update(p, g, s, step=t)
                ops.rmsprop_update(p, g, sq, ga, buf, momentum=0.9, centered=True)
        results.append([p, m, v, vmax, s, sq, ga, buf])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_ops_bad_input():
    p, g = np.zeros((4, 3)), np.zeros((4, 3))
    z = np.zeros((4, 3))
    readonly = np.zeros((4, 3))
    readonly.flags.writeable = False
    cases = [
        (lambda: ops.adagrad_update(p, g, z, step=0), ValueError, "step must be >= 1"),
        (lambda: ops.adagrad_update(p, g, np.zeros(3), step=1), ValueError,
         r"sum must have shape \(4, 3\)"),
        (lambda: ops.adagrad_update(p, g, readonly, step=1), ValueError, "sum must be writable"),
        (lambda: ops.adagrad_update(p, g, z.astype(np.float32), step=1), TypeError, "same dtype"),
        (lambda: ops.adagrad_update(p, g, z), TypeError, "step"),
        (lambda: ops.rmsprop_update(p, g, z, centered=True), ValueError,
         "grad_avg is required when centered"),
        (lambda: ops.rmsprop_update(p, g, z, momentum=0.9), ValueError,
         "buf is required when momentum"),
        (lambda: ops.rmsprop_update(p, g, np.zeros((3, 4)).T), ValueError,
         "square_avg must be a C-contiguous"),
        (lambda: ops.adam_update(p, g, z, z.copy(), step=1, amsgrad=True), ValueError,
         "max_exp_avg_sq is required when amsgrad"),
        (lambda: ops.adam_update(p, g, z, np.zeros(12), step=1), ValueError,
         "exp_avg_sq must have shape"),
        (lambda: ops.adam_update(p, g, z, z.copy(), step=1, beta1=1.0), ValueError, "beta1"),
        (lambda: ops.adam_update(p, g, z, z.copy(), step=1, beta2=-0.1), ValueError, "beta2"),
        (lambda: ops.adam_update(readonly, g, z, z.copy(), step=1), ValueError,
         "param must be writable"),
        (lambda: ops.adam_update(p, np.zeros((4, 3), np.float32), z, z.copy(), step=1),
         TypeError, "same dtype"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
    assert not p.any() and not z.any()


# --- the optimizers against torch.optim -------------------------------------------


def _run_against_torch(cls, tname, cfg, rng, dtype, steps=6):
    torch = pytest.importorskip("torch")
    params = make_params(rng, dtype)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = getattr(torch.optim, tname)(tparams, **cfg)
    opt = cls(params, **cfg)
    trace = []
    for _ in range(steps):
        grads = random_grads(rng, dtype)
        set_grads(params, grads)
        for t, g in zip(tparams, grads):
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        trace.append([(p.data.copy(), t.detach().numpy().copy()) for p, t in zip(params, tparams)])
    return opt, topt, trace


@pytest.mark.parametrize("cls,tname,cfg", CASES, ids=CASE_IDS)
def test_matches_torch_step_by_step(cls, tname, cfg, rng):
    opt, topt, trace = _run_against_torch(cls, tname, cfg, rng, np.float64)
    for step in trace:
        for ours, theirs in step:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # The state arrays agree too, under PyTorch's names.
    for i, tp in enumerate(topt.param_groups[0]["params"]):
        tstate = topt.state[tp]
        for key, arr in opt.state[i].items():
            np.testing.assert_allclose(arr, tstate[key].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,tname,cfg", [CASES[1], CASES[7], CASES[11], CASES[14]],
                         ids=[CASE_IDS[i] for i in (1, 7, 11, 14)])
def test_matches_torch_float32(cls, tname, cfg, rng):
    _, _, trace = _run_against_torch(cls, tname, cfg, rng, np.float32)
    for ours, theirs in trace[-1]:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,tname", [(AdaGrad, "Adagrad"), (RMSprop, "RMSprop"),
                                       (Adam, "Adam"), (AdamW, "AdamW")])
def test_defaults_are_torch_defaults(cls, tname, rng):
    torch = pytest.importorskip("torch")
    ours = cls(make_params(rng)).hyper
    theirs = getattr(torch.optim, tname)([torch.zeros(1, requires_grad=True)]).defaults
    if "betas" in theirs:
        theirs = dict(theirs, beta1=theirs["betas"][0], beta2=theirs["betas"][1])
    for key, value in ours.items():
        assert theirs[key] == value, key


@pytest.mark.parametrize("cls,tname,cfg", CASES, ids=CASE_IDS)
def test_matches_reference_loop(cls, tname, cfg, rng):
    # The optimizer is exactly its op applied per parameter, step numbers 1, 2, ...
    params = make_params(rng)
    ref = [p.data.copy() for p in params]
    opt = cls(params, **cfg)
    ref_state = [{k: v.copy() for k, v in s.items()} for s in opt.state]
    h = opt.hyper
    for t in range(1, 5):
        grads = random_grads(rng)
        set_grads(params, grads)
        opt.step()
        for r, s, g in zip(ref, ref_state, grads):
            if cls is AdaGrad:
                reference.adagrad_update(r, g, s["sum"], step=t, lr=h["lr"],
                                         lr_decay=h["lr_decay"], eps=h["eps"],
                                         weight_decay=h["weight_decay"])
            elif cls is RMSprop:
                reference.rmsprop_update(r, g, s["square_avg"], s.get("grad_avg"),
                                         s.get("momentum_buffer"), lr=h["lr"], alpha=h["alpha"],
                                         eps=h["eps"], weight_decay=h["weight_decay"],
                                         momentum=h["momentum"], centered=h["centered"])
            else:
                reference.adam_update(r, g, s["exp_avg"], s["exp_avg_sq"],
                                      s.get("max_exp_avg_sq"), step=t, lr=h["lr"],
                                      beta1=h["beta1"], beta2=h["beta2"], eps=h["eps"],
                                      weight_decay=h["weight_decay"], amsgrad=h["amsgrad"],
                                      decoupled_weight_decay=cls is AdamW)
    for p, r in zip(params, ref):
        np.testing.assert_array_equal(p.data, r)


# --- state dicts ---------------------------------------------------------------


@pytest.mark.parametrize("cls,tname,cfg", [CASES[2], CASES[7], CASES[11], CASES[14]],
                         ids=[CASE_IDS[i] for i in (2, 7, 11, 14)])
def test_state_dict_resumes_bitwise(cls, tname, cfg, rng):
    steps = [random_grads(rng) for _ in range(6)]
    straight = make_params(np.random.default_rng(1))
    opt = cls(straight, **cfg)
    for grads in steps:
        set_grads(straight, grads)
        opt.step()

    first = make_params(np.random.default_rng(1))
    opt1 = cls(first, **cfg)
    for grads in steps[:3]:
        set_grads(first, grads)
        opt1.step()
    state = {k: np.asarray(v) for k, v in opt1.state_dict().items()}  # as from np.load
    assert state["step"] == 3
    resumed = [Parameter(p.data.copy(), p.name) for p in first]
    opt2 = cls(resumed)  # default hyperparameters, replaced by the state's
    opt2.load_state_dict(state)
    assert opt2.hyper == opt1.hyper
    for grads in steps[3:]:
        set_grads(resumed, grads)
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_keys(rng):
    sd = Adam(make_params(rng), amsgrad=True).state_dict()
    assert list(sd)[:8] == ["optimizer", "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad",
                            "step"]
    assert [k for k in sd if k.startswith("state.0.")] == [
        "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"]
    sd = RMSprop(make_params(rng), momentum=0.9, centered=True).state_dict()
    assert [k for k in sd if k.startswith("state.1.")] == [
        "state.1.square_avg", "state.1.momentum_buffer", "state.1.grad_avg"]
    sd = AdaGrad(make_params(rng), initial_accumulator_value=0.5).state_dict()
    np.testing.assert_array_equal(sd["state.3.sum"], np.full(2, 0.5))


def test_load_state_dict_rejects_bad_state(rng):
    opt = Adam(make_params(rng))
    good = opt.state_dict()
    with pytest.raises(ValueError, match="missing keys.*max_exp_avg_sq"):
        opt.load_state_dict(dict(good, amsgrad=True))
    with pytest.raises(ValueError, match="beta1"):
        opt.load_state_dict(dict(good, beta1=1.5))
    with pytest.raises(ValueError, match=r"state.0.exp_avg.*\(2,\)"):
        opt.load_state_dict(dict(good, **{"state.0.exp_avg": np.zeros(2)}))
    assert opt.hyper["amsgrad"] is False and opt.hyper["beta1"] == 0.9


# --- construction and use -----------------------------------------------------------


@pytest.mark.parametrize(
    "cls,kwargs,exc,msg",
    [
        (Adam, {"lr": -1.0}, ValueError, "lr"),
        (Adam, {"betas": (0.9, 1.0)}, ValueError, "beta2"),
        (Adam, {"betas": (-0.1, 0.9)}, ValueError, "beta1"),
        (Adam, {"betas": 0.9}, TypeError, "betas"),
        (Adam, {"amsgrad": "yes"}, TypeError, "amsgrad"),
        (AdamW, {"weight_decay": float("inf")}, ValueError, "weight_decay"),
        (RMSprop, {"alpha": 1.5}, ValueError, "alpha"),
        (RMSprop, {"momentum": -0.1}, ValueError, "momentum"),
        (RMSprop, {"eps": "small"}, TypeError, "eps"),
        (AdaGrad, {"lr_decay": -1.0}, ValueError, "lr_decay"),
        (AdaGrad, {"initial_accumulator_value": -1.0}, ValueError, "initial_accumulator_value"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, exc, msg, rng):
    with pytest.raises(exc, match=msg):
        cls(make_params(rng), **kwargs)


def test_bad_params():
    with pytest.raises(TypeError, match="model.parameters"):
        Adam(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="empty"):
        RMSprop([])


def test_lr_setter_and_repr(rng):
    opt = AdamW(make_params(rng))
    assert repr(opt) == ("AdamW(4 parameters, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, "
                         "weight_decay=0.01, amsgrad=False)")
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.betas == (0.9, 0.999)
    with pytest.raises(ValueError, match="AdamW: invalid lr"):
        opt.lr = -1
    assert Adagrad is AdaGrad and fastbp.optim.Adam is Adam


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: AdaGrad(ps, lr=0.3),
    lambda ps: RMSprop(ps, lr=0.01),
    lambda ps: Adam(ps, lr=0.05),
    lambda ps: AdamW(ps, lr=0.05),
], ids=["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"])
def test_trains_a_model(make):
    # Full-batch regression y = 2x - 1: every optimizer gets the loss down.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 1))
    y = 2 * x - 1
    model = nn.Linear(1, 1, dtype=np.float64, rng=0)
    loss = fastbp.losses.MSELoss()
    opt = make(model.parameters())
    first = loss(model(x), y)
    for _ in range(150):
        opt.zero_grad()
        last = loss(model(x), y)
        model.backward(loss.backward())
        opt.step()
    assert last < 0.05 * first


# --- the example: `fastbp run optimizers` ------------------------------------------


def test_optimizer_and_init_comparison_example(tmp_path):
    from fastbp.examples.optimizers import optimizers

    plot = None
    try:
        import matplotlib  # noqa: F401
        plot = str(tmp_path / "optimizers.png")
    except ImportError:
        pass
    r = optimizers(seed=0, steps=200, init_steps=100, plot=plot)
    final = r["final_losses"]
    assert list(final) == ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]
    for name in ("Momentum", "AdaGrad", "RMSprop", "Adam"):  # ahead of plain SGD
        assert final[name] < 0.7 * final["SGD"], (name, final)
    assert all(len(h) == 200 for h in r["histories"].values())
    assert r["loss_history"] is r["histories"]["Adam"] and 0 <= r["accuracy"] <= 1
    # 0.01 std: activations vanish layer after layer; He keeps their scale.
    std = r["activation_std"]
    assert std["std=0.01"][-1] < 1e-4 < std["std=0.01"][0]
    assert std["Xavier"][-1] < std["Xavier"][0] and std["He"][-1] > 0.5
    inits = {k: float(np.mean(v[-20:])) for k, v in r["init_histories"].items()}
    assert inits["He"] < inits["Xavier"] < inits["std=0.01"]
    assert inits["std=0.01"] == pytest.approx(np.log(3), abs=0.01)  # it does not learn
    if plot is not None:
        assert r["plots"] == [plot, str(tmp_path / "optimizers_init.png")]
        for path in r["plots"]:
            with open(path, "rb") as f:
                assert f.read(4) == b"\x89PNG"
