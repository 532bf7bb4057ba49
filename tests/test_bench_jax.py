"""The JAX column of fastbp bench (fastbp.bench.jax_steps): each JAX step computes the
same update as the workload's NumPy baseline, from the same initial draws."""

import numpy as np
import pytest

from fastbp import bench
from fastbp.bench import baselines, jax_steps

jax = pytest.importorskip("jax")


def _as_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def test_jax_gemm_is_the_product():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 5), dtype=np.float32)
    b = rng.standard_normal((5, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(jax_steps.jax_gemm(a, b)()), a @ b, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("sizes, reg", [([2, 100, 3], 1e-3), ([20, 16, 8, 10], 0.0)])
def test_mlp_update_matches_the_numpy_step(sizes, reg):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((32, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=32)
    start = _as_numpy(baselines.mlp_params(sizes, np.float32))
    step = baselines.numpy_mlp_step(sizes, X, y, lr=0.5, reg=reg)
    update = jax_steps.mlp_update(lr=0.5, reg=reg)
    state = start
    for _ in range(2):
        step()
        state = update(*state, X, y.astype(np.int32))
    Ws, bs = _as_numpy(state)
    for got, want, first in zip(Ws + bs, step.params[0] + step.params[1], start[0] + start[1]):
        assert not np.array_equal(want, first)  # the step moved every parameter
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("padding, momentum", [(1, 0.9), (0, 0.0)])
def test_cnn_update_matches_the_numpy_step(padding, momentum):
    rng = np.random.default_rng(3)
    X = rng.random((6, 2, 9, 9), dtype=np.float32)  # odd conv outputs: the pool drops a row
    y = rng.integers(0, 4, size=6)
    net = dict(filters=5, kernel=3, padding=padding, hidden=12, classes=4)
    init = (0.3, 0.2, 0.2)
    p0 = baselines.cnn_params(X.shape[1:], np.float32, init=init, **net)
    step = baselines.numpy_cnn_step(X, y, lr=0.1, momentum=momentum, init=init, **net)
    update = jax_steps.cnn_update(padding, lr=0.1, momentum=momentum)
    state = (p0, {k: np.zeros_like(a) for k, a in p0.items()})
    for _ in range(2):  # the second step uses the momentum buffers
        step()
        state = update(*state, X, y.astype(np.int32))
    got = _as_numpy(state[0])
    for k, want in step.params.items():
        assert not np.array_equal(want, p0[k]), k
        np.testing.assert_allclose(got[k], want, rtol=1e-4, atol=1e-6, err_msg=k)


def test_jax_gemm_refuses_a_dtype_jax_would_round():
    a = np.ones((3, 3))  # float64: JAX computes it in float32 unless x64 is enabled
    if jax.config.jax_enable_x64:
        np.testing.assert_array_equal(np.asarray(jax_steps.jax_gemm(a, a)()), a @ a)
    else:
        assert jax_steps.jax_gemm(a, a) is None
        assert "jax" not in bench.gemm_workload(3, 3, 3, np.float64).impls


def test_workloads_time_jax_for_sgemm_and_the_steps():
    w = bench.gemm_workload(7, 5, 3)
    np.testing.assert_allclose(np.asarray(w.impls["jax"]()), w.impls["numpy"](), rtol=1e-5,
                               atol=1e-6)
    for build in (bench.spiral_step_workload, bench.mlp_step_workload,
                  lambda: bench.digits_cnn_workload(4)):
        w = build()
        assert "jax" in w.impls, w.name
        w.impls["jax"]()  # runs, and leaves its parameters on the device for the next call
    assert "jax" not in bench.conv_workload(2, 1, 4, 2).impls  # the steps and sgemm only


def test_table_and_environment_show_jax():
    r = bench.Result("w", 2e9, {"fastbp": 0.5, "numpy": 1.5, "jax": 1.0})
    table = bench.format_table([r])
    assert "| workload | fastbp | NumPy | JAX | NumPy / fastbp | JAX / fastbp |" in table
    assert "| 2.00x |" in table
    env = bench.environment()
    assert env["jax"]["version"] == jax.__version__
