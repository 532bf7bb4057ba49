"""The workloads of ``fastbp bench`` and of the ``bench/`` pytest-benchmark suites.

Each builder returns a :class:`Workload`: a name, its flop count (or None) and
one zero-argument callable per implementation: fastbp, its NumPy baseline
(:mod:`fastbp.bench.baselines`, one per workload), PyTorch when installed, and for
sgemm and the training steps JAX when installed (:mod:`fastbp.bench.jax_steps`).
The networks are defined here, not taken from the examples, so that a change
to an example's recipe does not change what the benchmark measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import fastbp
from fastbp import reference as ref
from fastbp.bench.baselines import numpy_cnn_step, numpy_mlp_step
from fastbp.bench.jax_steps import jax_cnn_step, jax_gemm, jax_mlp_step

IMPLS = ("fastbp", "numpy", "torch", "jax")


@dataclass
class Workload:
    """One benchmark row: a name, its flop count (or None), one callable per implementation."""

    name: str
    flops: Optional[float]
    impls: Dict[str, Callable[[], object]] = field(default_factory=dict)


def torch_or_none():
    """PyTorch, set to fastbp's thread count, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(fastbp.get_num_threads())
    return torch


def _add(w: Workload, impl: str, fn: Optional[Callable[[], object]]) -> None:
    """w.impls[impl] = fn, unless fn is None (that library is not installed)."""
    if fn is not None:
        w.impls[impl] = fn


# --- workloads --------------------------------------------------------------


def gemm_workload(m: int, k: int, n: int, dtype=np.float32, threads: Optional[int] = None):
    """C (m, n) = A (m, k) @ B (k, n)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    prefix = "sgemm" if dtype == np.float32 else "dgemm"
    name = f"{prefix} {m}x{k}x{n}" if not m == k == n else f"{prefix} {m}"
    if threads is not None:
        name += f" ({threads} thread{'s' if threads > 1 else ''})"
    w = Workload(name, 2.0 * m * n * k)

    def run_fastbp():
        if threads is None:
            return fastbp.gemm(a, b, c)
        before = fastbp.get_num_threads()
        fastbp.set_num_threads(threads)
        try:
            return fastbp.gemm(a, b, c)
        finally:
            fastbp.set_num_threads(before)

    w.impls["fastbp"] = run_fastbp
    if threads is None:
        w.impls["numpy"] = lambda: np.matmul(a, b, out=c)
        torch = torch_or_none()
        if torch is not None:
            ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
            w.impls["torch"] = lambda: torch.matmul(ta, tb, out=tc)
        _add(w, "jax", jax_gemm(a, b))
    return w


def spiral_step_workload():
    """One full-batch step of the CS231n 2-100-3 ReLU net on 300 spiral points."""
    from fastbp import data, losses, nn, optim

    X, y = data.spiral(seed=0)
    w = Workload("spiral 2-100-3 step", None)
    model = nn.Sequential(nn.Linear(2, 100, init=0.01, rng=0, input_grad=False), nn.ReLU(),
                          nn.Linear(100, 3, init=0.01, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=1.0)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        losses.l2_penalty(model, 1e-3)
        model.backward(loss.backward())
        opt.step()

    w.impls["fastbp"] = run_fastbp
    w.impls["numpy"] = numpy_mlp_step([2, 100, 3], X, y, lr=1.0, reg=1e-3)
    _add(w, "torch", _torch_mlp_step([2, 100, 3], X, y, lr=1.0, reg=1e-3))
    _add(w, "jax", jax_mlp_step([2, 100, 3], X, y, lr=1.0, reg=1e-3))
    return w


def mlp_step_workload(batch: int = 128):
    """One SGD step of a 784-256-10 ReLU net on a batch of random 'images'."""
    from fastbp import losses, nn, optim

    rng = np.random.default_rng(0)
    X = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    sizes = [784, 256, 10]
    w = Workload(f"MLP 784-256-10 step, batch {batch}", None)
    model = nn.Sequential(nn.Linear(784, 256, rng=0, input_grad=False), nn.ReLU(),
                          nn.Linear(256, 10, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    w.impls["fastbp"] = run_fastbp
    w.impls["numpy"] = numpy_mlp_step(sizes, X, y, lr=0.1, reg=0.0)
    _add(w, "torch", _torch_mlp_step(sizes, X, y, lr=0.1, reg=0.0))
    _add(w, "jax", jax_mlp_step(sizes, X, y, lr=0.1, reg=0.0))
    return w


def _torch_mlp_step(sizes: List[int], X, y, lr: float, reg: float):
    torch = torch_or_none()
    if torch is None:
        return None
    layers: list = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=reg)
    tX, ty = torch.from_numpy(X), torch.from_numpy(np.asarray(y, np.int64))
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        criterion(model(tX), ty).backward()
        opt.step()

    return step


def conv_workload(n: int, c: int, hw: int, oc: int):
    """Conv 3x3, padding 1, forward + backward on x (n, c, hw, hw) -> oc channels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    w = (0.1 * rng.standard_normal((oc, c, 3, 3))).astype(np.float32)
    b = np.zeros(oc, np.float32)
    dout = rng.standard_normal((n, oc, hw, hw)).astype(np.float32)
    # The direct algorithm's flops (forward, dx and dw): fastbp's Winograd performs fewer, so
    # its GFLOP/s is a direct-equivalent rate (see CONV_FLOPS_NOTE).
    flops = 3 * 2.0 * n * oc * hw * hw * c * 9
    wl = Workload(f"conv 3x3 ({n},{c},{hw},{hw})->{oc} fwd+bwd", flops)

    def make(module):
        def step():
            module.conv2d_forward(x, w, b, 1, 1)
            module.conv2d_backward(dout, x, w, 1, 1)

        return step

    wl.impls["fastbp"] = make(fastbp.ops)
    wl.impls["numpy"] = make(ref)
    torch = torch_or_none()
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w.copy()).requires_grad_()
        tb = torch.from_numpy(b.copy()).requires_grad_()
        tdout = torch.from_numpy(dout)

        def torch_step():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tdout)

        wl.impls["torch"] = torch_step
    return wl


def cnn_step_workload(name: str, batch: int, image: Tuple[int, int, int], *, filters: int,
                      kernel: int, padding: int, hidden: int, classes: int = 10, lr: float,
                      momentum: float = 0.0, init: Tuple[float, float, float]) -> Workload:
    """One SGD step (softmax cross-entropy) of ``Conv2d(C, filters, kernel, padding) -
    ReLU - MaxPool2d(2) - Flatten - Linear(., hidden) - ReLU - Linear(hidden, classes)``
    on a batch of random (C, H, W) images; the convolution skips its input gradient.
    ``init``: each layer's weight std."""
    from fastbp import losses, nn, optim

    rng = np.random.default_rng(0)
    X = rng.random((batch,) + tuple(image), dtype=np.float32)
    y = rng.integers(0, classes, size=batch)
    C, H, W = image
    flat = filters * ((H + 2 * padding - kernel + 1) // 2) * ((W + 2 * padding - kernel + 1) // 2)
    wl = Workload(f"{name} step, batch {batch}", None)
    model = nn.Sequential(
        nn.Conv2d(C, filters, kernel, padding=padding, init=init[0], rng=0, input_grad=False),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(flat, hidden, init=init[1], rng=1), nn.ReLU(),
        nn.Linear(hidden, classes, init=init[2], rng=2),
    )
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def run_fastbp():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    wl.impls["fastbp"] = run_fastbp
    net = dict(filters=filters, kernel=kernel, padding=padding, hidden=hidden,
               classes=classes, lr=lr, momentum=momentum, init=init)
    wl.impls["numpy"] = numpy_cnn_step(X, y, **net)
    torch = torch_or_none()
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Conv2d(C, filters, kernel, padding=padding), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(flat, hidden),
            torch.nn.ReLU(), torch.nn.Linear(hidden, classes),
        )
        topt = torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=momentum)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)
        criterion = torch.nn.CrossEntropyLoss()

        def torch_step():
            topt.zero_grad()
            criterion(tmodel(tX), ty).backward()
            topt.step()

        wl.impls["torch"] = torch_step
    _add(wl, "jax", jax_cnn_step(X, y, **net))
    return wl


def simple_convnet_workload(batch: int = 100) -> Workload:
    """The "Deep Learning from Scratch" SimpleConvNet on 1x28x28 input: conv 30 5x5 -
    ReLU - max-pool 2 - linear 4320-100 - ReLU - linear 100-10, plain SGD, std 0.01."""
    return cnn_step_workload("SimpleConvNet", batch, (1, 28, 28), filters=30, kernel=5,
                             padding=0, hidden=100, lr=0.1, init=(0.01, 0.01, 0.01))


def digits_cnn_workload(batch: int = 32) -> Workload:
    """The network of ``fastbp run cnn`` on 1x8x8 digits: conv 16 3x3 pad 1 - ReLU -
    max-pool 2 - linear 256-64 - ReLU - linear 64-10, SGD with momentum 0.9."""
    return cnn_step_workload("digits CNN", batch, (1, 8, 8), filters=16, kernel=3, padding=1,
                             hidden=64, lr=0.05, momentum=0.9, init=(0.3, 0.09, 0.18))


def default_workloads(quick: bool = False) -> List[Callable[[], Workload]]:
    """Builders for the performance issue's table (a lighter set with ``quick``)."""
    builders: List[Callable[[], Workload]] = [
        lambda: gemm_workload(1024, 1024, 1024),
        lambda: spiral_step_workload(),
        lambda: mlp_step_workload(),
        lambda: conv_workload(64, 32, 16, 64),
        lambda: simple_convnet_workload(),
    ]
    if quick:
        return builders
    builders += [
        lambda: gemm_workload(2048, 2048, 2048),
        lambda: gemm_workload(1024, 1024, 1024, np.float64),
        lambda: gemm_workload(128, 784, 256),
        lambda: gemm_workload(100, 4320, 100),
        lambda: gemm_workload(57600, 25, 30),
        lambda: gemm_workload(30, 57600, 25),
        lambda: gemm_workload(16384, 288, 64),
        lambda: gemm_workload(2048, 2048, 2048, threads=1),
        lambda: gemm_workload(2048, 2048, 2048, threads=2),
        lambda: conv_workload(64, 3, 32, 32),
    ]
    return builders
