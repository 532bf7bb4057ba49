"""One full-batch training step of the CS231n spiral 2-100-3 ReLU net:
forward, softmax cross-entropy, L2 penalty, backward, SGD update.

fastbp (its layers, loss, l2_penalty and SGD) against the same step written in
plain NumPy (the CS231n code) and in PyTorch (autograd, when importable), all
float32 on the same data and initial weights. Not collected by the test run:

    pytest bench/bench_steps.py --benchmark-only          # pytest-benchmark table
    python bench/bench_steps.py [--threads N] [--repeat R] # quick medians and ratios

Quote medians and ratios from one run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, Optional

import numpy as np

import fastbp
from fastbp.data import spiral
from fastbp.losses import SoftmaxCrossEntropy, l2_penalty
from fastbp.nn import Linear, ReLU, Sequential
from fastbp.optim import SGD

HIDDEN, CLASSES, REG, LR = 100, 3, 1e-3, 1.0


def initial_state(seed: int = 0):
    """The spiral data and the CS231n initial weights (float32)."""
    rs = np.random.RandomState(seed)
    X, y = spiral(seed=rs)
    W1 = (0.01 * rs.randn(2, HIDDEN)).astype(np.float32)
    W2 = (0.01 * rs.randn(HIDDEN, CLASSES)).astype(np.float32)
    return X, y, W1, np.zeros(HIDDEN, np.float32), W2, np.zeros(CLASSES, np.float32)


def make_fastbp_step(seed: int = 0) -> Callable[[], float]:
    X, y, W1, b1, W2, b2 = initial_state(seed)
    fc1, fc2 = Linear(2, HIDDEN, init=0.0), Linear(HIDDEN, CLASSES, init=0.0)
    fc1.weight.data[...], fc2.weight.data[...] = W1, W2
    model = Sequential(fc1, ReLU(), fc2)
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), lr=LR)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        model.backward(loss_fn.backward())
        loss += l2_penalty(model, REG)
        opt.step()
        return loss

    return step


def make_numpy_step(seed: int = 0) -> Callable[[], float]:
    X, y, *params = initial_state(seed)
    N = X.shape[0]
    rows = np.arange(N)
    reg, lr = np.float32(REG), np.float32(LR)

    def step() -> float:
        W, b, W2, b2 = params  # updated in place below
        hidden = np.maximum(0, X @ W + b)
        scores = hidden @ W2 + b2
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        loss = -np.log(probs[rows, y]).mean()
        loss += 0.5 * reg * np.sum(W * W) + 0.5 * reg * np.sum(W2 * W2)
        dscores = probs
        dscores[rows, y] -= 1
        dscores /= N
        dW2 = hidden.T @ dscores + reg * W2
        db2 = dscores.sum(axis=0)
        dhidden = dscores @ W2.T
        dhidden[hidden <= 0] = 0
        dW = X.T @ dhidden + reg * W
        db = dhidden.sum(axis=0)
        W -= lr * dW
        b -= lr * db
        W2 -= lr * dW2
        b2 -= lr * db2
        return float(loss)

    return step


def make_torch_step(seed: int = 0) -> Optional[Callable[[], float]]:
    try:
        import torch
    except ImportError:
        return None
    X, y, *params = initial_state(seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    W, b, W2, b2 = (torch.tensor(p, requires_grad=True) for p in params)
    opt = torch.optim.SGD([W, b, W2, b2], lr=LR)
    F = torch.nn.functional

    def step() -> float:
        opt.zero_grad()
        scores = F.relu(Xt @ W + b) @ W2 + b2
        loss = F.cross_entropy(scores, yt) + 0.5 * REG * ((W * W).sum() + (W2 * W2).sum())
        loss.backward()
        opt.step()
        return loss.detach().item()

    return step


def make_steps(seed: int = 0) -> Dict[str, Callable[[], float]]:
    steps = {"fastbp": make_fastbp_step(seed), "numpy": make_numpy_step(seed)}
    torch_step = make_torch_step(seed)
    if torch_step is not None:
        steps["torch"] = torch_step
    return steps


# --- pytest-benchmark --------------------------------------------------------------
try:
    import pytest
except ImportError:  # the script mode below needs only NumPy
    pytest = None

if pytest is not None:

    def _blas_info():
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return "threadpoolctl not installed"
        return [
            {k: d.get(k) for k in ("internal_api", "architecture", "num_threads")}
            for d in threadpool_info()
        ]

    @pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
    def test_spiral_mlp_step(benchmark, impl):
        if impl == "torch":
            torch = pytest.importorskip("torch")
            torch.set_num_threads(fastbp.get_num_threads())
            step = make_torch_step()
        else:
            step = {"fastbp": make_fastbp_step, "numpy": make_numpy_step}[impl]()
        benchmark.group = "spiral 2-100-3 full-batch step (float32, N=300)"
        benchmark.extra_info["threads"] = fastbp.get_num_threads()
        benchmark.extra_info["isa"] = fastbp.build_info()["isa"]
        benchmark.extra_info["blas"] = _blas_info()
        for _ in range(20):  # warm up caches, thread pools and allocators
            step()
        loss = benchmark(step)
        assert np.isfinite(loss)


# --- script mode -------------------------------------------------------------------
def _median_us(step: Callable[[], float], repeat: int, inner: int) -> float:
    for _ in range(inner):
        step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--inner", type=int, default=50)
    args = parser.parse_args()
    if args.threads:
        fastbp.set_num_threads(args.threads)
    steps = make_steps()
    if "torch" in steps:
        import torch

        torch.set_num_threads(fastbp.get_num_threads())
    # interleave the implementations so background load hits them alike
    samples: Dict[str, list] = {k: [] for k in steps}
    for _ in range(3):
        for name, step in steps.items():
            samples[name].append(_median_us(step, max(1, args.repeat // 3), args.inner))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    print(f"spiral 2-100-3 step, float32, threads={fastbp.get_num_threads()}, "
          f"isa={fastbp.build_info()['isa']}")
    base = medians["fastbp"]
    for name, us in medians.items():
        print(f"  {name:7s} {us:9.1f} us   {us / base:5.2f}x fastbp's time")


if __name__ == "__main__":
    main()
