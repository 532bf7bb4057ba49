"""The NumPy baselines of the benchmark workloads: each training step written the
way one writes it without fastbp, one function per kind of network.

- :func:`numpy_mlp_step`: the ReLU MLP step of the CS231n code, layer by layer.
- :func:`numpy_cnn_step`: the conv - ReLU - max-pool - linear - ReLU - linear
  step composed from the :mod:`fastbp.reference` ops (the NumPy twins).

Each returns a zero-argument step over its own float32 weights (same shapes and
update rule as the fastbp model it is compared with), drawn by :func:`mlp_params` or
:func:`cnn_params` (the JAX steps of :mod:`fastbp.bench.jax_steps` start from the
same draws); the step's ``params`` attribute holds them, updated in place.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from fastbp import reference as ref


def mlp_params(sizes: Sequence[int], dtype) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """The initial weights (std 0.01) and zero biases of a ReLU MLP with layer sizes
    ``sizes``: ``(Ws, bs)``, ``Ws[i]`` of shape (sizes[i], sizes[i + 1])."""
    rng = np.random.default_rng(0)
    Ws = [(0.01 * rng.standard_normal((i, o))).astype(dtype) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, dtype) for o in sizes[1:]]
    return Ws, bs


def numpy_mlp_step(sizes: List[int], X: np.ndarray, y: np.ndarray, lr: float,
                   reg: float) -> Callable[[], None]:
    """One SGD step of a ReLU MLP with layer sizes ``sizes`` (softmax cross-entropy,
    L2 penalty ``0.5 * reg * |W|^2`` on the weights), the CS231n way."""
    Ws, bs = mlp_params(sizes, X.dtype)

    def step() -> None:
        acts = [X]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = acts[-1] @ W + b
            acts.append(np.maximum(h, 0) if i < len(Ws) - 1 else h)
        _, dh = ref.softmax_cross_entropy(acts[-1], y)
        for i in reversed(range(len(Ws))):
            dW = acts[i].T @ dh + reg * Ws[i]
            db = dh.sum(axis=0)
            if i > 0:
                dh = dh @ Ws[i].T
                dh[acts[i] <= 0] = 0
            Ws[i] -= lr * dW
            bs[i] -= lr * db

    step.params = (Ws, bs)  # type: ignore[attr-defined]
    return step


def cnn_params(image: Sequence[int], dtype, *, filters: int, kernel: int, padding: int,
               hidden: int, classes: int, init: Sequence[float]) -> Dict[str, np.ndarray]:
    """The initial parameters of the network of :func:`numpy_cnn_step` on (C, H, W)
    images: weights ``w1`` (filters, C, kernel, kernel), ``w2`` (flat, hidden), ``w3``
    (hidden, classes) of std ``init[0..2]``, zero biases ``b1``, ``b2``, ``b3``."""
    rng = np.random.default_rng(0)
    C, H, W = image
    OH, OW = H + 2 * padding - kernel + 1, W + 2 * padding - kernel + 1
    flat = filters * (OH // 2) * (OW // 2)
    return {
        "w1": (init[0] * rng.standard_normal((filters, C, kernel, kernel))).astype(dtype),
        "b1": np.zeros(filters, dtype),
        "w2": (init[1] * rng.standard_normal((flat, hidden))).astype(dtype),
        "b2": np.zeros(hidden, dtype),
        "w3": (init[2] * rng.standard_normal((hidden, classes))).astype(dtype),
        "b3": np.zeros(classes, dtype),
    }


def numpy_cnn_step(X: np.ndarray, y: np.ndarray, *, filters: int, kernel: int, padding: int,
                   hidden: int, classes: int, lr: float, momentum: float = 0.0,
                   init: Sequence[float] = (0.01, 0.01, 0.01)) -> Callable[[], None]:
    """One SGD step of ``Conv2d(C, filters, kernel, padding) - ReLU - MaxPool2d(2) -
    Flatten - Linear(., hidden) - ReLU - Linear(hidden, classes)`` on X (N, C, H, W),
    composed from the reference ops; like fastbp and PyTorch it skips the gradient
    of the input images. ``init``: the weight std of each of the three layers."""
    N = X.shape[0]
    p = cnn_params(X.shape[1:], X.dtype, filters=filters, kernel=kernel, padding=padding,
                   hidden=hidden, classes=classes, init=init)
    bufs = {k: np.zeros_like(a) for k, a in p.items()} if momentum else {k: None for k in p}

    def step() -> None:
        c = ref.conv2d_forward(X, p["w1"], p["b1"], 1, padding)
        r = ref.relu_forward(c)
        pooled, argmax = ref.max_pool2d_forward(r, 2)
        f = pooled.reshape(N, -1)
        h = ref.linear_forward(f, p["w2"], p["b2"])
        hr = ref.relu_forward(h)
        scores = ref.linear_forward(hr, p["w3"], p["b3"])
        _, dscores = ref.softmax_cross_entropy(scores, y)
        dhr, g3w, g3b = ref.linear_backward(dscores, hr, p["w3"])
        df, g2w, g2b = ref.linear_backward(ref.relu_backward(dhr, h), f, p["w2"])
        dr = ref.max_pool2d_backward(df.reshape(pooled.shape), argmax, r.shape)
        _, g1w, g1b = ref.conv2d_backward(ref.relu_backward(dr, c), X, p["w1"], 1, padding,
                                          input_grad=False)
        grads = {"w1": g1w, "b1": g1b, "w2": g2w, "b2": g2b, "w3": g3w, "b3": g3b}
        for k, g in grads.items():
            ref.sgd_update(p[k], g, bufs[k], lr=lr, momentum=momentum)

    step.params = p  # type: ignore[attr-defined]
    return step
