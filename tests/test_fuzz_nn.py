"""Property tests for the layers, losses and optimizer: random shapes (0 and 1
included), dtypes (non-float, complex, object, str), views (reversed,
strided, Fortran, read-only), NaN/Inf, out-of-range labels, huge and negative
sizes. Each case matches a NumPy oracle or raises the documented exception
(TypeError / ValueError / MemoryError); none crashes or hangs.

The number of cases run per public function is printed at the end of the
module (``fuzz cases per function``), for the issue's closing note.
"""

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastbp import losses, nn, ops, optim
from fastbp import reference as ref
from fastbp.nn.module import float_dtype_for
from support import tolerance

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CASES: Counter = Counter()

REAL_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int32, np.int64, np.uint8,
               np.uint64, np.bool_]
BAD_DTYPES = [np.complex64, np.complex128, object, "U3", "datetime64[s]"]
ANY_DTYPE = st.sampled_from(REAL_DTYPES + BAD_DTYPES)
FLOATS = st.sampled_from([np.float32, np.float64])
VIEWS = st.sampled_from(["plain", "reversed", "strided", "fortran", "readonly"])
MOSTLY_FLOAT = st.one_of(FLOATS, FLOATS, ANY_DTYPE)
RARELY = st.sampled_from([False, False, False, True])


@pytest.fixture(scope="module", autouse=True)
def report_cases(request):
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None or not CASES:
        return
    with capture.global_and_fixture_disabled():
        print("\nfuzz cases per function (test_fuzz_nn.py): total, matched the oracle")
        for name in sorted(CASES):
            print(f"  {name:36s} {CASES[name]:5d} {MATCHED[name]:5d}")


MATCHED: Counter = Counter()


def count(*names):
    """Counts a case for each function it calls."""
    for name in names:
        CASES[name] += 1


def matched(*names):
    """Counts a case that got past validation and was compared with the oracle."""
    for name in names:
        MATCHED[name] += 1


@st.composite
def arrays(draw, dtype, shape, finite=False, view=None):
    """An array of `dtype` and `shape` (NaN/Inf allowed unless `finite`) in a random layout."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.floats(-1e3, 1e3, width=32)
        if not finite and draw(RARELY):  # NaN/Inf in about a quarter of the arrays
            elements = st.one_of(elements, st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))
    elif dtype.kind == "c":
        elements = st.complex_numbers(max_magnitude=1e3, allow_nan=False, width=64)
    elif dtype.kind == "b":
        elements = st.booleans()
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -100), min(info.max, 100))
    elif dtype.kind == "O":
        elements = st.floats(-10, 10)
    else:
        elements = None
    view = view or draw(VIEWS)
    shape = tuple(shape)
    if view == "strided" and shape:
        base = draw(hnp.arrays(dtype, (2 * shape[0],) + shape[1:], elements=elements))
        return base[::2]
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    if view == "reversed" and shape:
        return arr[::-1]
    if view == "fortran" and shape:
        return np.asfortranarray(arr)
    if view == "readonly":
        arr.flags.writeable = False
    return arr


def close(got, want):
    np.testing.assert_allclose(got, want, equal_nan=True, **tolerance(got.dtype))


def moderate(*arrays) -> bool:
    return all(np.all(np.abs(a) < 1e6) for a in arrays)  # False for NaN and Inf


def raises_for_bad_dtype(dtype) -> bool:
    return np.dtype(dtype).kind not in "fiub"


# --- Linear ------------------------------------------------------------------------
@FUZZ
@given(lead=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5),
       d=st.integers(1, 6), m=st.integers(1, 6), layer_dtype=FLOATS, in_dtype=ANY_DTYPE,
       bias=st.booleans(), wrong_d=RARELY, data=st.data())
def test_linear_forward_backward(lead, d, m, layer_dtype, in_dtype, bias, wrong_d, data):
    count("nn.Linear.forward", "nn.Linear.backward")
    layer = nn.Linear(d, m, bias=bias, dtype=layer_dtype, rng=0)
    d_in = d + 1 if wrong_d else d
    x = data.draw(arrays(in_dtype, lead + (d_in,)))
    if raises_for_bad_dtype(in_dtype):
        with pytest.raises(TypeError, match="input must be real-valued"):
            layer(x)
        return
    if wrong_d:
        with pytest.raises(ValueError, match="expected"):
            layer(x)
        return
    with np.errstate(all="ignore"):
        y = layer(x)
        x64 = x.astype(layer_dtype).astype(np.float64)
        want = x64 @ layer.weight.data.astype(np.float64)
        if bias:
            want = want + layer.bias.data
    assert y.shape == lead + (m,) and y.dtype == layer_dtype
    if moderate(x64):
        close(y, want)
    dout = data.draw(arrays(layer_dtype, lead + (m,), finite=True))
    with np.errstate(all="ignore"):
        dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.dtype == layer_dtype
    dout64 = dout.astype(np.float64).reshape(-1, m)
    close(dx.reshape(-1, d), dout64 @ layer.weight.data.T.astype(np.float64))
    if moderate(x64):
        close(layer.weight.grad, x64.reshape(-1, d).T @ dout64)
    if bias:
        close(layer.bias.grad, dout64.sum(axis=0))
    matched("nn.Linear.forward", "nn.Linear.backward")
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.zeros(lead + (m + 1,), layer_dtype))


@FUZZ
@given(d=st.one_of(st.integers(-3, 3), st.sampled_from([2**40, 2**62])),
       m=st.one_of(st.integers(-3, 3), st.sampled_from([2**40, 2**62])))
def test_linear_sizes(d, m):
    count("nn.Linear.__init__")
    if d < 1 or m < 1:
        with pytest.raises(ValueError, match="must be >= 1"):
            nn.Linear(d, m)
    elif d * m >= 2**40:
        # NumPy refuses before touching memory: MemoryError, or ValueError when
        # the byte count does not even fit in an integer.
        with pytest.raises((MemoryError, ValueError)):
            nn.Linear(d, m)
    else:
        assert nn.Linear(d, m, rng=0).weight.shape == (d, m)
        matched("nn.Linear.__init__")


@FUZZ
@given(arg=st.sampled_from([1.5, "3", None, True, np.float64(2.0), [2]]))
def test_linear_size_types(arg):
    count("nn.Linear.__init__")
    with pytest.raises(TypeError, match="must be an int"):
        nn.Linear(arg, 3)
    with pytest.raises(TypeError, match="must be an int"):
        nn.Linear(3, arg)


# --- activations ---------------------------------------------------------------------
ACTIVATIONS = {
    "ReLU": (nn.ReLU, ref.relu_forward, ref.relu_backward, "x"),
    "LeakyReLU": (nn.LeakyReLU, ref.leaky_relu_forward, ref.leaky_relu_backward, "x"),
    "Sigmoid": (nn.Sigmoid, ref.sigmoid_forward, ref.sigmoid_backward, "y"),
    "Tanh": (nn.Tanh, ref.tanh_forward, ref.tanh_backward, "y"),
}


@FUZZ
@given(name=st.sampled_from(sorted(ACTIVATIONS)), dtype=ANY_DTYPE,
       shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
       slope=st.floats(-2, 2), data=st.data())
def test_activation_forward_backward(name, dtype, shape, slope, data):
    count(f"nn.{name}.forward", f"nn.{name}.backward")
    cls, fwd, bwd, saved = ACTIVATIONS[name]
    layer = cls(slope) if name == "LeakyReLU" else cls()
    extra = (slope,) if name == "LeakyReLU" else ()
    x = data.draw(arrays(dtype, shape))
    if raises_for_bad_dtype(dtype):
        with pytest.raises(TypeError, match="must be real-valued"):
            layer(x)
        return
    ft = float_dtype_for(x.dtype)
    xf = np.asarray(x, dtype=ft)
    with np.errstate(all="ignore"):
        y = layer(x)
        want = fwd(xf, *extra)
    assert y.shape == x.shape and y.dtype == ft
    close(y, want)
    dout = data.draw(arrays(ft, shape))
    with np.errstate(all="ignore"):
        dx = layer.backward(dout)
        # Sigmoid and Tanh differentiate through their own output y (checked above):
        # near saturation, 1 - y**2 turns y's last-bit rounding into a large relative
        # difference, so the oracle uses the same y.
        close(dx, bwd(dout, xf if saved == "x" else y, *extra))
    matched(f"nn.{name}.forward", f"nn.{name}.backward")
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.zeros(shape + (2,), ft))
    with pytest.raises(TypeError, match="must be real-valued"):
        layer.backward(np.zeros(shape, np.complex64))


@FUZZ
@given(name=st.sampled_from(sorted(ACTIVATIONS)))
def test_backward_before_forward(name):
    count(f"nn.{name}.backward")
    with pytest.raises(RuntimeError, match="backward called before forward"):
        ACTIVATIONS[name][0]().backward(np.zeros(3))


# --- Sequential ------------------------------------------------------------------
def chain_reference(specs, x, dout):
    """NumPy float64 forward and backward of a chain of (kind, W, b) layers."""
    cache = []
    for kind, W, b in specs:
        cache.append(x)
        if kind == "Linear":
            x = x @ W + b
        else:
            x = {"ReLU": ref.relu_forward, "Sigmoid": ref.sigmoid_forward,
                 "Tanh": ref.tanh_forward, "LeakyReLU": ref.leaky_relu_forward}[kind](x)
    y = x
    grads = []
    for (kind, W, b), inp in zip(reversed(specs), reversed(cache)):
        if kind == "Linear":
            grads.append((inp.T @ dout, dout.sum(axis=0)))
            dout = dout @ W.T
        elif kind in ("ReLU", "LeakyReLU"):
            dout = {"ReLU": ref.relu_backward, "LeakyReLU": ref.leaky_relu_backward}[kind](
                dout, inp)
        else:
            out = {"Sigmoid": ref.sigmoid_forward, "Tanh": ref.tanh_forward}[kind](inp)
            dout = {"Sigmoid": ref.sigmoid_backward, "Tanh": ref.tanh_backward}[kind](dout, out)
    return y, dout, grads[::-1]


@FUZZ
@given(kinds=st.lists(st.sampled_from(["Linear", "ReLU", "Sigmoid", "Tanh", "LeakyReLU"]),
                      min_size=0, max_size=5),
       widths=st.lists(st.integers(1, 5), min_size=6, max_size=6), n=st.integers(0, 5),
       seed=st.integers(0, 2**16), data=st.data())
def test_sequential_matches_chained_reference(kinds, widths, n, seed, data):
    count("nn.Sequential.forward", "nn.Sequential.backward")
    layers, specs, width = [], [], widths[0]
    for i, kind in enumerate(kinds):
        if kind == "Linear":
            layer = nn.Linear(width, widths[i + 1], dtype=np.float64, rng=seed + i)
            layer.bias.data[...] = np.linspace(-1, 1, widths[i + 1])
            specs.append((kind, layer.weight.data.copy(), layer.bias.data.copy()))
            width = widths[i + 1]
        else:
            layer = getattr(nn, kind)()
            specs.append((kind, None, None))
        layers.append(layer)
    net = nn.Sequential(*layers)
    x = data.draw(arrays(np.float64, (n, widths[0]), finite=True))
    dout = data.draw(arrays(np.float64, (n, width), finite=True))
    y = net(x)
    dx = net.backward(dout)
    want_y, want_dx, want_grads = chain_reference(specs, x.astype(np.float64), dout)
    # Layers may sum their products in another order than NumPy's BLAS (1 ulp apart),
    # and a saturating Tanh or Sigmoid turns that into a relative difference of up to
    # ~1e-7 in 1 - y**2 or y * (1 - y): the chain is compared at that precision.
    chained = dict(rtol=1e-6, atol=1e-10, equal_nan=True)
    np.testing.assert_allclose(y, want_y, **chained)
    np.testing.assert_allclose(dx, want_dx, **chained)
    linears = [layer for layer in layers if isinstance(layer, nn.Linear)]
    for layer, (dW, db) in zip(linears, want_grads):
        np.testing.assert_allclose(layer.weight.grad, dW, **chained)
        np.testing.assert_allclose(layer.bias.grad, db, **chained)
    matched("nn.Sequential.forward", "nn.Sequential.backward")


@FUZZ
@given(arg=st.sampled_from([None, 3, "relu", np.zeros(2), nn.ReLU]))
def test_sequential_rejects_non_modules(arg):
    count("nn.Sequential.__init__")
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(nn.ReLU(), arg)


# --- losses ---------------------------------------------------------------------------
def xent_reference(scores, labels):
    s = scores.astype(np.float64)
    shifted = s - s.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    n = s.shape[0]
    loss = np.mean(log_sum - shifted[np.arange(n), labels])
    d = np.exp(shifted - log_sum[:, None])
    d[np.arange(n), labels] -= 1
    return loss, d / n


LABEL_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, np.float64, np.bool_]


@FUZZ
@given(n=st.integers(0, 6), c=st.integers(0, 6), score_dtype=MOSTLY_FLOAT,
       label_dtype=st.one_of(st.just(np.int64), st.sampled_from(LABEL_DTYPES)),
       label_shift=st.sampled_from([0, 0, 0, 0, -1, 1]), extra_label=RARELY, data=st.data())
def test_softmax_cross_entropy(n, c, score_dtype, label_dtype, label_shift, extra_label, data):
    count("losses.SoftmaxCrossEntropy")
    loss = losses.SoftmaxCrossEntropy()
    scores = data.draw(arrays(score_dtype, (n, c)))
    raw = data.draw(st.lists(st.integers(0, max(c - 1, 0)), min_size=n + extra_label,
                             max_size=n + extra_label))
    labels = np.array(raw, dtype=label_dtype)
    if label_shift and n:  # sometimes force one label out of range
        labels = labels.astype(np.int64)
        labels[0] = -1 if label_shift < 0 else c
        if label_dtype in (np.uint8, np.uint64) and label_shift < 0:
            labels[0] = c
        labels = labels.astype(label_dtype) if np.dtype(label_dtype).kind in "iu" else labels
    if raises_for_bad_dtype(score_dtype):
        with pytest.raises(TypeError):
            loss(scores, labels)
        return
    if labels.dtype.kind not in "iu":
        with pytest.raises(TypeError, match="labels must be integers"):
            loss(scores, labels)
        return
    if extra_label or n == 0 or c == 0 or np.any(labels < 0) or np.any(labels >= c):
        with pytest.raises(ValueError):
            loss(scores, labels)
        assert loss._grad is None or extra_label is False
        return
    with np.errstate(all="ignore"):
        value = loss(scores, labels)
        dscores = loss.backward()
    ft = float_dtype_for(scores.dtype)
    assert dscores.shape == (n, c) and dscores.dtype == ft
    if np.all(np.isfinite(scores.astype(ft))):
        want_loss, want_d = xent_reference(scores.astype(ft), labels.astype(np.int64))
        tol = tolerance(ft)
        np.testing.assert_allclose(value, want_loss, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
        close(dscores, want_d)
        matched("losses.SoftmaxCrossEntropy")


@FUZZ
@given(kind=st.sampled_from(["MSELoss-mean", "MSELoss-sum", "SquaredError"]),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
       y_dtype=MOSTLY_FLOAT, t_dtype=MOSTLY_FLOAT, mismatch=RARELY, data=st.data())
def test_regression_losses(kind, shape, y_dtype, t_dtype, mismatch, data):
    count(f"losses.{kind.split('-')[0]}")
    loss = losses.SquaredError() if kind == "SquaredError" else losses.MSELoss(kind[8:])
    y = data.draw(arrays(y_dtype, shape))
    t = data.draw(arrays(t_dtype, shape + (2,) if mismatch else shape))
    if raises_for_bad_dtype(y_dtype) or raises_for_bad_dtype(t_dtype):
        with pytest.raises(TypeError, match="must be real-valued"):
            loss(y, t)
        return
    if mismatch or y.size == 0:
        with pytest.raises(ValueError):
            loss(y, t)
        return
    ft = float_dtype_for(y.dtype)
    with np.errstate(all="ignore"):
        value = loss(y, t)
        diff = y.astype(ft) - t.astype(ft)
        total = float(np.sum(diff.astype(np.float64) ** 2))
    grad = loss.backward()
    assert grad.shape == y.shape and grad.dtype == ft
    if kind == "SquaredError":
        want_value, want_grad = 0.5 * total, diff
    elif kind == "MSELoss-sum":
        want_value, want_grad = total, 2 * diff
    else:
        want_value, want_grad = total / diff.size, diff * (2.0 / diff.size)
    if moderate(diff):
        # Squares below the smallest normal number underflow in ft: each term may lose
        # up to `tiny`, so the tolerance has that absolute part too.
        atol = float(np.finfo(ft).tiny) * diff.size
        np.testing.assert_allclose(value, want_value, rtol=1e-5, atol=atol)
    close(grad, want_grad.astype(ft))
    matched(f"losses.{kind.split('-')[0]}")


@FUZZ
@given(reduction=st.one_of(st.text(max_size=4), st.sampled_from(["Mean", "none", None])))
def test_mse_reduction(reduction):
    assume(reduction not in ("mean", "sum"))
    count("losses.MSELoss.__init__")
    with pytest.raises(ValueError, match="reduction must be"):
        losses.MSELoss(reduction)


# --- SGD and the fused ops ---------------------------------------------------------------
BAD_HYPER = st.sampled_from([-0.1, np.nan, np.inf, "0.1", None, True])


@FUZZ
@given(shapes=st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                       min_size=1, max_size=3),
       dtype=FLOATS, hyper=st.tuples(st.floats(0, 2), st.floats(0, 2), st.floats(0, 0.1)),
       nesterov=st.booleans(), error=st.sampled_from([None] * 4 + [0, 1, 2]),
       bad=BAD_HYPER, steps=st.integers(1, 3), data=st.data())
def test_sgd_optimizer(shapes, dtype, hyper, nesterov, error, bad, steps, data):
    count("optim.SGD")
    params = [nn.Parameter(data.draw(arrays(dtype, s, finite=True))) for s in shapes]
    hyper = list(hyper)
    if error is not None:
        hyper[error] = bad
    lr, momentum, weight_decay = hyper
    args = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    if error is not None:
        with pytest.raises((TypeError, ValueError), match="SGD"):
            optim.SGD(params, **args)
        return
    if nesterov and momentum == 0:
        with pytest.raises(ValueError, match="Nesterov momentum requires momentum > 0"):
            optim.SGD(params, **args)
        return
    opt = optim.SGD(params, **args)
    want = [p.data.copy() for p in params]
    bufs = [np.zeros_like(p.data) for p in params]
    for _ in range(steps):
        for p in params:
            p.grad[...] = data.draw(arrays(dtype, p.shape))
        with np.errstate(all="ignore"):
            opt.step()
            for p, w, b in zip(params, want, bufs):
                ref.sgd_update(w, p.grad, b, **args)
    for p, w in zip(params, want):
        close(p.data, w)
    assert opt.step_count == steps
    matched("optim.SGD")


SGD_ERRORS = ["dtype", "param-layout", "param-readonly", "grad-layout", "dtypes", "shape",
              "buf-none"]


@FUZZ
@given(dtype=FLOATS, bad_dtype=st.sampled_from(REAL_DTYPES[2:] + BAD_DTYPES),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=5),
       g_readonly=st.booleans(), momentum=st.sampled_from([0.0, 0.9]), nesterov=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2]), lr=st.floats(0, 1),
       error=st.sampled_from([None] * 6 + SGD_ERRORS),
       layout=st.sampled_from(["reversed", "strided", "fortran"]), data=st.data())
def test_sgd_update_op(dtype, bad_dtype, shape, g_readonly, momentum, nesterov, weight_decay, lr,
                       error, layout, data):
    count("ops.sgd_update")
    if layout == "fortran" and len(shape) == 1:  # a 1-D Fortran array is C-contiguous too
        layout = "reversed"
    nesterov = nesterov and momentum != 0
    if error == "buf-none":
        momentum = 0.9
    p_dtype = bad_dtype if error == "dtype" else dtype
    param = data.draw(arrays(p_dtype, shape, view=layout if error == "param-layout" else "plain"))
    if error == "param-readonly":
        param.flags.writeable = False
    g_dtype = (np.float32 if np.dtype(dtype) == np.float64 else np.float64) \
        if error == "dtypes" else dtype
    grad = data.draw(arrays(g_dtype, shape + (1,) if error == "shape" else shape,
                            view=layout if error == "grad-layout" else "plain"))
    if g_readonly:
        grad.flags.writeable = False  # allowed: grad is only read
    buf = None if error == "buf-none" else np.zeros(shape, dtype)
    kwargs = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    expected = {
        "dtype": (TypeError, "param must be float32 or float64"),
        "param-layout": (ValueError, "param must be a C-contiguous"),
        "param-readonly": (ValueError, "param must be writable"),
        "grad-layout": (ValueError, "grad must be a C-contiguous"),
        "dtypes": (TypeError, "must have the same dtype"),
        "shape": (ValueError, "grad must have shape"),
        "buf-none": (ValueError, "buf .* is required"),
    }
    if error is not None:
        exc, match = expected[error]
        before = param.copy()
        with pytest.raises(exc, match=match):
            ops.sgd_update(param, grad, buf, **kwargs)
        np.testing.assert_array_equal(param, before)
        return
    want, want_buf = param.copy(), buf.copy()
    with np.errstate(all="ignore"):
        ops.sgd_update(param, grad, buf, **kwargs)
        ref.sgd_update(want, grad, want_buf, **kwargs)
    close(param, want)
    if momentum != 0:
        close(buf, want_buf)
    matched("ops.sgd_update")


# Each *_many op: its lists after params and grads, and its keyword arguments.
MANY_OPS = {
    "sgd_update_many": (["bufs"], dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adagrad_update_many": (["sums"], dict(step=2, lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    "rmsprop_update_many": (["square_avgs", "grad_avgs", "bufs"],
                            dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    "adam_update_many": (["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"],
                         dict(step=3, lr=0.01, amsgrad=True, weight_decay=0.01)),
}
MANY_ERRORS = {
    "bad-dtype": (TypeError, "float32 or float64"),
    "other-dtype": (TypeError, "must have the same dtype"),
    "shape": (ValueError, "must have shape"),
    "layout": (ValueError, "must be a C-contiguous"),
    "readonly": (ValueError, "must be writable"),
    "none": (TypeError, "float32 or float64, got NoneType"),
    "short": (ValueError, "must have the same length"),
    "not-a-list": (TypeError, "must be a list or tuple"),
}


@FUZZ
@given(name=st.sampled_from(sorted(MANY_OPS)), dtype=FLOATS,
       shapes=st.lists(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=5),
                       min_size=1, max_size=4),
       error=st.sampled_from([None] * 4 + sorted(MANY_ERRORS)), data=st.data())
def test_update_many_ops(name, dtype, shapes, error, data):
    count(f"ops.{name}")
    state_names, kwargs = MANY_OPS[name]
    lists = {"params": [data.draw(arrays(dtype, s, finite=True, view="plain")) for s in shapes],
             "grads": [data.draw(arrays(dtype, s, finite=True, view="plain")) for s in shapes]}
    for state in state_names:  # square averages must stay >= 0: start every state at 0.5
        lists[state] = [np.full(s, 0.5 if state != "grad_avgs" else 0.01, dtype) for s in shapes]
    if error is not None:
        target = data.draw(st.sampled_from(sorted(lists)))
        i = data.draw(st.integers(0, len(shapes) - 1))
        entry = lists[target][i]
        if error == "readonly" and target == "grads":
            error = "shape"  # grads are only read: a read-only one is fine
        if error == "short" and target == "params":
            target, i = "grads", 0
        replaced = {
            "bad-dtype": lambda: entry.astype(np.int32),
            "other-dtype": lambda: entry.astype(np.float32 if dtype == np.float64 else np.float64),
            "shape": lambda: np.zeros(entry.shape + (2,), dtype),
            "layout": lambda: np.zeros(entry.shape[::-1] + (2,), dtype)[..., 0].T,
            "readonly": lambda: np.require(entry, requirements="C"),
            "none": lambda: None,
        }
        if error == "short":
            lists[target] = lists[target][1:]
        elif error == "not-a-list":
            lists[target] = entry
        else:
            lists[target][i] = replaced[error]()
            if error == "readonly":
                lists[target][i].flags.writeable = False
        before = [a.copy() for key in lists if isinstance(lists[key], list)
                  for a in lists[key] if isinstance(a, np.ndarray)]
        exc, match = MANY_ERRORS[error]
        with pytest.raises(exc, match=match):
            getattr(ops, name)(*lists.values(), **kwargs)
        after = [a for key in lists if isinstance(lists[key], list)
                 for a in lists[key] if isinstance(a, np.ndarray)]
        for a, b in zip(after, before):  # nothing was updated
            np.testing.assert_array_equal(a, b)
        return
    want = {key: [a.copy() for a in arrays_] for key, arrays_ in lists.items()}
    getattr(ops, name)(*lists.values(), **kwargs)
    getattr(ref, name)(*want.values(), **kwargs)
    for key in lists:
        for got, expected in zip(lists[key], want[key]):
            np.testing.assert_array_equal(got, expected)  # the same formulas, bitwise
    matched(f"ops.{name}")


@FUZZ
@given(dtype=MOSTLY_FLOAT, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
       w_view=VIEWS, reg=st.floats(0, 10), other_shape=RARELY, data=st.data())
def test_l2_penalty_accumulate_op(dtype, shape, w_view, reg, other_shape, data):
    count("ops.l2_penalty_accumulate")
    w = data.draw(arrays(dtype, shape, view=w_view))
    grad = np.zeros(shape + (1,) if other_shape else shape,
                    dtype if np.dtype(dtype).kind == "f" else np.float32)
    if np.dtype(dtype) not in (np.float32, np.float64):
        with pytest.raises(TypeError, match="must be float32 or float64"):
            ops.l2_penalty_accumulate(grad, w, reg)
        return
    if other_shape:
        with pytest.raises(ValueError, match="grad must have shape"):
            ops.l2_penalty_accumulate(grad, w, reg)
        return
    want_grad = grad.copy()
    with np.errstate(all="ignore"):
        got = ops.l2_penalty_accumulate(grad, w, reg)
        want = ref.l2_penalty_accumulate(want_grad, w, reg)
    close(grad, want_grad)
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    matched("ops.l2_penalty_accumulate")
    ro = np.zeros_like(grad)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="grad must be writable"):
        ops.l2_penalty_accumulate(ro, w, reg)


@FUZZ
@given(reg=st.one_of(st.floats(allow_nan=True), st.sampled_from([-1.0, np.inf])),
       dtype=FLOATS)
def test_l2_penalty_loss(reg, dtype):
    count("losses.l2_penalty")
    model = nn.Sequential(nn.Linear(3, 2, dtype=dtype, rng=0))
    if not np.isfinite(reg) or reg < 0:
        with pytest.raises(ValueError, match="reg must be finite and >= 0"):
            losses.l2_penalty(model, reg)
        return
    w = model[0].weight.data
    with np.errstate(all="ignore"):
        value = losses.l2_penalty(model, reg)
    assume(np.isfinite(value))
    np.testing.assert_allclose(value, 0.5 * float(dtype(reg)) * np.sum(w.astype(np.float64) ** 2),
                               rtol=1e-6)
    matched("losses.l2_penalty")


# --- Sequential's layer fusions ----------------------------------------------------
CONV_BLOCK_LAYERS = st.lists(
    st.sampled_from(["conv", "relu", "pool", "pool3", "avg"]), min_size=1, max_size=5)
DENSE_LAYERS = st.lists(st.sampled_from(["linear", "relu", "sigmoid"]), min_size=1, max_size=5)


def _image_layers(names, channels, seed, dtype):
    """Modules for `names`; convolutions keep the size (3x3, padding 1)."""
    out = []
    for i, name in enumerate(names):
        if name == "conv":
            out.append(nn.Conv2d(channels, channels, 3, padding=1, rng=seed + i, dtype=dtype,
                                 input_grad=i > 0))
        elif name == "relu":
            out.append(nn.ReLU())
        elif name == "pool":
            out.append(nn.MaxPool2d(2))
        elif name == "pool3":
            out.append(nn.MaxPool2d(3, 2))  # overlapping windows
        else:
            out.append(nn.AvgPool2d(1))
    return out


def _dense_layers(names, width, seed, dtype):
    out = []
    for i, name in enumerate(names):
        if name == "linear":
            out.append(nn.Linear(width, width, rng=seed + i, dtype=dtype, input_grad=i > 0))
        else:
            out.append(nn.ReLU() if name == "relu" else nn.Sigmoid())
    return out


def _fused_and_plain_agree(make, x, rng, case):
    """A Sequential (fused steps) and the same layers run one by one give the same bits:
    output, dx (or None) and every parameter gradient; or raise the same error."""
    count(case)
    fused, plain = make(), make()
    try:
        h = x
        for module in plain:
            h = module(h)
    except ValueError as e:  # e.g. pooled below a window's size: the same error, fused
        with pytest.raises(ValueError) as fused_error:
            fused(x)
        assert str(fused_error.value) == str(e)
        return
    y = fused(x)
    assert y.tobytes() == h.tobytes()
    dout = rng.standard_normal(y.shape).astype(y.dtype)
    dx = fused.backward(dout)
    d = dout
    for module in reversed(list(plain)):
        d = module.backward(d)
    assert (dx is None) == (d is None)
    if dx is not None:
        assert dx.tobytes() == d.tobytes()
    for p, q in zip(fused.parameters(), plain.parameters()):
        assert p.grad.tobytes() == q.grad.tobytes()
    matched(case)


@FUZZ
@given(names=CONV_BLOCK_LAYERS, n=st.integers(0, 3), c=st.integers(1, 3),
       hw=st.integers(6, 20), dtype=FLOATS, seed=st.integers(0, 100))
def test_sequential_fusions_match_layer_by_layer_images(names, n, c, hw, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    x[rng.random(x.shape) < 0.1] = 0.0  # ties and zeros before the ReLUs
    _fused_and_plain_agree(lambda: nn.Sequential(*_image_layers(names, c, seed, dtype)), x, rng,
                           "nn.Sequential fusions (images)")


@FUZZ
@given(names=DENSE_LAYERS, n=st.integers(0, 5), width=st.integers(1, 40), extra_axis=st.booleans(),
       dtype=FLOATS, seed=st.integers(0, 100))
def test_sequential_fusions_match_layer_by_layer_dense(names, n, width, extra_axis, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = (n, 2, width) if extra_axis else (n, width)
    x = rng.standard_normal(shape).astype(dtype)
    _fused_and_plain_agree(lambda: nn.Sequential(*_dense_layers(names, width, seed, dtype)), x,
                           rng, "nn.Sequential fusions (dense)")
