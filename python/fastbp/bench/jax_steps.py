"""The JAX column of ``fastbp bench`` (jit-compiled, on the CPU), when ``jax`` is installed.

Each builder returns a zero-argument callable that runs the same work as the
workload's NumPy baseline (:mod:`fastbp.bench.baselines`): the same network, loss,
initial draws and update rule, the parameters kept on JAX's CPU device between calls
and every call waiting for its result (``block_until_ready``). The update functions
(``*_update``) are exposed so that tests can compare one step with the baseline's.

JAX runs XLA's own thread pool, one thread per core of the machine: unlike PyTorch it
cannot be set to fastbp's thread count after it starts (see :func:`jax_threads_note`).
"""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence

import numpy as np

from fastbp.bench.baselines import cnn_params, mlp_params


def jax_or_none():
    """The ``jax`` module, or None when it is not installed."""
    try:
        import jax
    except ImportError:
        return None
    return jax


def jax_threads_note() -> str:
    """How many threads JAX's CPU backend runs, for the benchmark's environment line."""
    return f"XLA's pool, one thread per core ({os.cpu_count()} here)"


def _wait(tree):
    import jax

    return jax.block_until_ready(tree)


# --- sgemm ---------------------------------------------------------------------------


def jax_gemm(a: np.ndarray, b: np.ndarray) -> Optional[Callable[[], object]]:
    """``a @ b`` by a jit-compiled ``jnp.matmul`` on arrays already on the device; None
    where JAX would compute in another dtype (float64 without ``jax_enable_x64``, which
    JAX rounds to float32)."""
    jax = jax_or_none()
    if jax is None:
        return None
    import jax.numpy as jnp

    ja, jb = jax.device_put(a), jax.device_put(b)
    if ja.dtype != a.dtype or jb.dtype != b.dtype:
        return None
    matmul = jax.jit(jnp.matmul)
    return lambda: _wait(matmul(ja, jb))


# --- the MLP step of numpy_mlp_step ----------------------------------------------------


def mlp_update(lr: float, reg: float):
    """A jit-compiled ``(Ws, bs, X, y) -> (Ws, bs)``: one SGD step of a ReLU MLP on the
    mean softmax cross-entropy plus ``0.5 * reg * |W|^2`` over the weights, as
    :func:`fastbp.bench.baselines.numpy_mlp_step` computes it."""
    import jax
    import jax.numpy as jnp

    def loss(Ws, bs, X, y):
        h = X
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = h @ W + b  # (N, sizes[i + 1])
            if i < len(Ws) - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h, axis=1)
        data = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
        return data + 0.5 * reg * sum(jnp.sum(W * W) for W in Ws)

    def update(Ws, bs, X, y):
        gW, gb = jax.grad(loss, argnums=(0, 1))(Ws, bs, X, y)
        return ([W - lr * g for W, g in zip(Ws, gW)], [b - lr * g for b, g in zip(bs, gb)])

    return jax.jit(update)


def jax_mlp_step(sizes: List[int], X: np.ndarray, y: np.ndarray, lr: float,
                 reg: float) -> Optional[Callable[[], None]]:
    """The JAX twin of :func:`fastbp.bench.baselines.numpy_mlp_step`."""
    jax = jax_or_none()
    if jax is None:
        return None
    update = mlp_update(lr, reg)
    Ws, bs = mlp_params(sizes, X.dtype)
    state = {"params": jax.device_put((Ws, bs))}
    jX, jy = jax.device_put(X), jax.device_put(np.asarray(y, np.int32))

    def step() -> None:
        state["params"] = _wait(update(*state["params"], jX, jy))

    return step


# --- the CNN step of numpy_cnn_step ----------------------------------------------------


def cnn_update(padding: int, lr: float, momentum: float):
    """A jit-compiled ``(params, bufs, X, y) -> (params, bufs)``: one SGD step (PyTorch's
    momentum; ``bufs`` unused when it is 0) of ``conv - ReLU - max-pool 2 - linear -
    ReLU - linear`` on the mean softmax cross-entropy, as
    :func:`fastbp.bench.baselines.numpy_cnn_step` computes it (no input gradient)."""
    import jax
    import jax.numpy as jnp

    def loss(p, X, y):
        c = jax.lax.conv_general_dilated(X, p["w1"], (1, 1), [(padding, padding)] * 2)
        r = jax.nn.relu(c + p["b1"][None, :, None, None])  # (N, F, OH, OW)
        N, F, OH, OW = r.shape
        r = r[:, :, : OH // 2 * 2, : OW // 2 * 2].reshape(N, F, OH // 2, 2, OW // 2, 2)
        f = r.max(axis=(3, 5)).reshape(N, -1)  # max-pool 2, flattened
        h = jax.nn.relu(f @ p["w2"] + p["b2"])
        logp = jax.nn.log_softmax(h @ p["w3"] + p["b3"], axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def update(p, bufs, X, y):
        g = jax.grad(loss)(p, X, y)
        if momentum:
            bufs = {k: momentum * bufs[k] + g[k] for k in p}
            g = bufs
        return {k: p[k] - lr * g[k] for k in p}, bufs

    return jax.jit(update)


def jax_cnn_step(X: np.ndarray, y: np.ndarray, *, filters: int, kernel: int, padding: int,
                 hidden: int, classes: int, lr: float, momentum: float = 0.0,
                 init: Sequence[float] = (0.01, 0.01, 0.01)) -> Optional[Callable[[], None]]:
    """The JAX twin of :func:`fastbp.bench.baselines.numpy_cnn_step`."""
    jax = jax_or_none()
    if jax is None:
        return None
    update = cnn_update(padding, lr, momentum)
    p = cnn_params(X.shape[1:], X.dtype, filters=filters, kernel=kernel, padding=padding,
                   hidden=hidden, classes=classes, init=init)
    bufs = {k: np.zeros_like(a) for k, a in p.items()}
    state = {"state": jax.device_put((p, bufs))}
    jX, jy = jax.device_put(X), jax.device_put(np.asarray(y, np.int32))

    def step() -> None:
        state["state"] = _wait(update(*state["state"], jX, jy))

    return step
