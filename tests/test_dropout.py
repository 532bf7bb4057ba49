"""Dropout: the op against its NumPy twin, inverted scaling, eval identity,
seeding, backward with the forward mask, gradient check, bad input."""

import numpy as np
import pytest
from support import num_threads

import fastbp
from fastbp import nn, ops, reference
from fastbp.nn import Dropout


@pytest.mark.parametrize("shape", [(1,), (3, 7), (2, 3, 4, 5), (0, 3)], ids=str)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_op_matches_reference(shape, p, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    out, mask = ops.dropout_forward(x, p, 2024)
    out_ref, mask_ref = reference.dropout_forward(x, p, 2024)
    assert out.dtype == mask.dtype == dtype and out.shape == mask.shape == shape
    np.testing.assert_array_equal(mask, mask_ref)  # the same counter-based draws
    np.testing.assert_array_equal(out, out_ref)
    dout = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(ops.dropout_backward(dout, mask),
                                  reference.dropout_backward(dout, mask))


def test_mask_values_and_rate(rng):
    x = np.ones((400, 500), np.float32)
    for p in (0.1, 0.5, 0.8):
        out, mask = ops.dropout_forward(x, p, 7)
        kept = mask != 0
        np.testing.assert_array_equal(mask[kept], np.float32(1 / (1 - p)))
        # 200000 Bernoulli draws: the kept fraction is within 5 sigma of 1 - p.
        sigma = np.sqrt(p * (1 - p) / x.size)
        assert abs(kept.mean() - (1 - p)) < 5 * sigma
        assert abs(out.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    assert not ops.dropout_forward(x, 1.0, 7)[0].any()
    np.testing.assert_array_equal(ops.dropout_forward(x, 0.0, 7)[0], x)


def test_seeds_and_threads(rng):
    x = np.ones((600, 300), np.float32)
    a = ops.dropout_forward(x, 0.5, 1)[1]
    assert (a != ops.dropout_forward(x, 0.5, 2)[1]).mean() > 0.4  # another seed, another mask
    for n in (1, 2):
        with num_threads(n):
            np.testing.assert_array_equal(ops.dropout_forward(x, 0.5, 1)[1], a)
    _, big = ops.dropout_forward(np.ones(10), 0.5, 2**64 - 1)  # the whole seed range
    assert big.shape == (10,)


def test_module_train_and_eval(rng):
    d = Dropout(0.25, rng=0)
    x = rng.standard_normal((50, 40)).astype(np.float32)
    y = d(x)
    mask = d.mask
    np.testing.assert_array_equal(y, x * mask)
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    dout = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(d.backward(dout), dout * mask)  # the same mask
    d.eval()
    assert d(x) is x and d.mask is None  # identity, no copy
    assert d.backward(dout) is dout
    assert Dropout(0.0)(x) is x


def test_module_seeded():
    x = np.ones((20, 30))
    a, b = Dropout(0.5, rng=3), Dropout(0.5, rng=np.random.default_rng(3))
    for _ in range(3):  # the same sequence of masks
        np.testing.assert_array_equal(a(x), b(x))
    first, second = Dropout(0.5, rng=3)(x), a(x)
    assert not np.array_equal(first, second)  # a fresh mask on every forward pass


def test_module_keeps_dtype_and_converts_ints():
    d = Dropout(0.5, rng=0)
    assert d(np.ones(4, np.float64)).dtype == np.float64
    assert d(np.ones(4, np.int8)).dtype == np.float32
    assert d.backward(np.ones(4, np.float64)).dtype == np.float32


def test_gradcheck_with_a_fixed_mask(rng):
    x = rng.standard_normal((4, 6))
    mask = ops.dropout_forward(x, 0.4, 11)[1]
    assert fastbp.gradcheck(lambda v: ops.dropout_forward(v, 0.4, 11)[0], x,
                            backward=lambda dout: ops.dropout_backward(dout, mask))


def test_in_a_network(rng):
    net = nn.Sequential(nn.Linear(5, 8, rng=0), nn.ReLU(), Dropout(0.5, rng=1),
                        nn.Linear(8, 3, rng=2))
    x = rng.standard_normal((6, 5)).astype(np.float32)
    out = net(x)
    assert out.shape == (6, 3)
    assert net.backward(np.ones_like(out)).shape == x.shape
    net.eval()
    np.testing.assert_array_equal(net(x), net(x))  # deterministic at test time
    assert repr(net[2]) == "Dropout(p=0.5)"


def test_matches_torch_statistics():
    # PyTorch's masks come from its own generator; the semantics agree: zeros
    # with probability p, survivors scaled by 1 / (1 - p), identity in eval.
    torch = pytest.importorskip("torch")
    x = np.ones((100, 100))
    td = torch.nn.Dropout(0.3)
    ty = td(torch.tensor(x)).numpy()
    y = Dropout(0.3, rng=0)(x)
    assert set(np.round(np.unique(ty), 12)) == set(np.round(np.unique(y), 12))
    td.eval()
    np.testing.assert_array_equal(td(torch.tensor(x)).numpy(), Dropout(0.3).eval()(x))


def test_bad_input():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="p must be a float"):
        Dropout("0.5")
    with pytest.raises(TypeError, match="rng"):
        Dropout(0.5, rng="seed")
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout(0.5).backward(np.zeros(3))
    d = Dropout(0.5, rng=0)
    d(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        d.backward(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="p must be in"):
        ops.dropout_forward(np.zeros(3), -0.1, 0)
    with pytest.raises(TypeError):
        ops.dropout_forward(np.zeros(3), 0.5, -1)
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.dropout_backward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="real-valued"):
        d(np.array(["a"]))
