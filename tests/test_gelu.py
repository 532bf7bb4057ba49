"""GELU (PyTorch's approximate="tanh" form): ops.gelu_forward / gelu_backward against
their twins, numerical gradients, PyTorch, bad input, thread counts, ISAs, nn.GELU."""

import json
import math

import numpy as np
import pytest

import fastbp
from fastbp import nn, ops
from fastbp import reference as ref
from support import num_threads, run_python, tolerance

SHAPES = [(0,), (1,), (7,), (3, 5), (2, 3, 4), (257, 33), (4, 1, 9, 9)]


def _gelu_by_hand(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_twin(shape, dtype, rng):
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    y = ops.gelu_forward(x)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, ref.gelu_forward(x), **tolerance(dtype))
    dx = ops.gelu_backward(dout, x)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, ref.gelu_backward(dout, x), **tolerance(dtype))


def test_strided_input_matches_twin(dtype, rng):
    base = (3 * rng.standard_normal((20, 30))).astype(dtype)
    view = base[::3, 1::2].T  # neither C- nor F-contiguous
    np.testing.assert_allclose(ops.gelu_forward(view), ref.gelu_forward(view), **tolerance(dtype))
    dout = np.ones_like(base)[::3, 1::2].T
    np.testing.assert_allclose(ops.gelu_backward(dout, view), ref.gelu_backward(dout, view),
                               **tolerance(dtype))


def test_values_by_hand():
    x = np.array([-3.0, -1.0, -1e-3, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(ops.gelu_forward(x), [_gelu_by_hand(v) for v in x], rtol=1e-14)
    assert ops.gelu_forward(np.zeros(1))[0] == 0.0
    # Far out, gelu is the identity on the right and 0 on the left; the derivative 1 and 0,
    # also where x**3 and x**2 overflow (no inf * 0 = NaN).
    for dtype in (np.float32, np.float64):
        big = np.array([-1e30, -50.0, 50.0, 1e30], dtype)
        np.testing.assert_array_equal(ops.gelu_forward(big), np.array([0, 0, 50, 1e30], dtype))
        np.testing.assert_array_equal(ops.gelu_backward(np.ones_like(big), big), [0, 0, 1, 1])
        np.testing.assert_array_equal(ref.gelu_backward(np.ones_like(big), big), [0, 0, 1, 1])


def test_nan_propagates():
    x = np.array([np.nan, 1.0])
    assert np.isnan(ops.gelu_forward(x)[0]) and np.isnan(ops.gelu_backward(np.ones(2), x)[0])


def test_backward_is_the_numerical_derivative(rng):
    # float64 central differences of gelu_forward, element by element.
    x = np.concatenate([3 * rng.standard_normal(200), [0.0, 1e-4, -5.0, 5.0]])
    h = 1e-6
    numeric = (ops.gelu_forward(x + h) - ops.gelu_forward(x - h)) / (2 * h)
    np.testing.assert_allclose(ops.gelu_backward(np.ones_like(x), x), numeric,
                               rtol=1e-7, atol=1e-9)


def test_layer_passes_gradcheck(rng):
    model = nn.Sequential(nn.Linear(5, 7, dtype=np.float64, rng=0), nn.GELU(),
                          nn.Linear(7, 3, dtype=np.float64, rng=1))
    assert fastbp.gradcheck(model, rng.standard_normal((4, 5)))


def test_layer_calls_the_ops(rng):
    layer = nn.GELU()
    x = rng.standard_normal((3, 4)).astype(np.float32)
    dout = rng.standard_normal((3, 4)).astype(np.float32)
    assert layer(x).tobytes() == ops.gelu_forward(x).tobytes()
    assert layer.backward(dout).tobytes() == ops.gelu_backward(dout, x).tobytes()
    assert repr(layer) == "GELU()"
    with pytest.raises(RuntimeError, match="before forward"):
        nn.GELU().backward(dout)


def test_matches_pytorch_tanh_form(dtype, rng):
    torch = pytest.importorskip("torch")
    x = (3 * rng.standard_normal((64, 33))).astype(dtype)
    dout = rng.standard_normal((64, 33)).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = torch.nn.GELU(approximate="tanh")(tx)
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(ops.gelu_forward(x), ty.detach().numpy(), **tolerance(dtype))
    np.testing.assert_allclose(ops.gelu_backward(dout, x), tx.grad.numpy(), **tolerance(dtype))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: ops.gelu_forward(np.arange(3)), TypeError, "x"),
    (lambda: ops.gelu_forward([1.0, 2.0]), TypeError, "x"),
    (lambda: ops.gelu_backward(np.ones(3), np.ones(4)), ValueError, r"\(3,\).*\(4,\)|\(4,\).*\(3,\)"),
    (lambda: ops.gelu_backward(np.ones(3, np.float32), np.ones(3)), TypeError, "dtype"),
    (lambda: ops.gelu_backward(np.ones(3), np.arange(3)), TypeError, "x"),
    (lambda: nn.GELU().backward(np.ones(3)), RuntimeError, "before forward"),
])
def test_bad_input_raises_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_layer_checks_dout_shape(rng):
    layer = nn.GELU()
    layer(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="GELU.*dout has shape"):
        layer.backward(np.ones((3, 2)))


def test_same_bits_for_any_thread_count(rng):
    x = (3 * rng.standard_normal(600_000)).astype(np.float32)  # large enough for 2 threads
    dout = rng.standard_normal(600_000).astype(np.float32)
    runs = []
    for n in (1, 2):
        with num_threads(n):
            runs.append((ops.gelu_forward(x).tobytes(), ops.gelu_backward(dout, x).tobytes()))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("isa", fastbp.build_info()["isas"])
def test_matches_twin_under_every_isa(isa):
    code = (
        "import json, numpy as np, fastbp\n"
        "from fastbp import ops, reference as ref\n"
        "out = {}\n"
        "for dt, tol in ((np.float32, 1e-4), (np.float64, 1e-10)):\n"
        "    x = (3 * np.random.default_rng(1).standard_normal(1001)).astype(dt)\n"
        "    d = np.random.default_rng(2).standard_normal(1001).astype(dt)\n"
        "    out[dt.__name__] = [\n"
        "        bool(np.allclose(ops.gelu_forward(x), ref.gelu_forward(x), rtol=tol, atol=tol)),\n"
        "        bool(np.allclose(ops.gelu_backward(d, x), ref.gelu_backward(d, x), rtol=tol,\n"
        "                         atol=tol))]\n"
        "print(json.dumps([fastbp.build_info()['isa'], out]))\n"
    )
    result = run_python(code, {"FASTBP_ISA": isa})
    assert result.returncode == 0, result.stderr
    used, ok = json.loads(result.stdout)
    assert used == isa
    assert ok == {"float32": [True, True], "float64": [True, True]}
