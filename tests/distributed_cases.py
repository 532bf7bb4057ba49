"""The training cases of the data-parallel tests, shared by tests/test_distributed.py
(one process, the oracle) and tests/distributed_worker.py (each MPI rank).

A case is ``f(rank) -> (model, optimizer, X, y, fit_kwargs)``. The model's
initial weights are drawn from a seed that differs per rank, so a rank that
missed :func:`fastbp.distributed.broadcast_parameters` would train from other
weights; the oracle builds rank 0's. Each case takes 20 optimizer steps.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from fastbp import losses, nn, optim
from fastbp.data import spiral
from fastbp.data.mnist import load_digits
from fastbp.distributed import shard_bounds
from fastbp.examples.cnn import digits_cnn

Case = Tuple[nn.Module, optim.Optimizer, np.ndarray, np.ndarray, Dict[str, Any]]


def loss() -> losses.SoftmaxCrossEntropy:
    return losses.SoftmaxCrossEntropy()


def spiral_mlp(rank: int) -> Case:
    """The spiral 2-100-3 ReLU net; 300 samples in batches of 31 (the tenth
    batch has 21, split 11/10), 2 epochs: 20 steps of SGD with momentum."""
    X, y = spiral(100, 3, 0.2, seed=0)
    gen = np.random.default_rng(100 + rank)
    model = nn.Sequential(nn.Linear(2, 100, rng=gen), nn.ReLU(), nn.Linear(100, 3, rng=gen))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    return model, opt, X, y, dict(epochs=2, batch_size=31, seed=0)


def digits_cnn_case(rank: int) -> Case:
    """The digits CNN on the first 1275 digits in batches of 64 (the last has
    59, split 30/29): 20 steps; validation on the next 201 (split 101/100)."""
    X, y = load_digits()
    model = digits_cnn(rng=200 + rank)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, X[:1275], y[:1275], dict(epochs=1, batch_size=64, seed=1,
                                                 validation=(X[1275:1476], y[1275:1476]))


def bn_dropout(rank: int) -> Case:
    """Linear - BatchNorm1d - ReLU - Dropout - Linear on the spiral, batches of
    30, 2 epochs (20 steps). Dropout is seeded per rank (7 + rank), as the
    module docstring of fastbp.distributed recommends."""
    X, y = spiral(100, 3, 0.2, seed=1)
    gen = np.random.default_rng(300 + rank)
    model = nn.Sequential(nn.Linear(2, 32, rng=gen), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Dropout(0.3, rng=7 + rank), nn.Linear(32, 3, rng=gen))
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    return model, opt, X, y, dict(epochs=2, batch_size=30, seed=2)


CASES: Dict[str, Callable[[int], Case]] = {
    "spiral": spiral_mlp,
    "cnn": digits_cnn_case,
    "bn_dropout": bn_dropout,
}


def replicas(name: str, size: int) -> nn.Module:
    """Data parallelism simulated in one process: ``size`` replicas with rank
    0's weights (and each its own Dropout seed) train on their shards of every
    global batch of fit's order; the shard gradients, weighted by shard size,
    are summed in rank order in float32 (what the Allreduce adds), every
    replica steps with the sum, and after each epoch the buffers are averaged.
    Returns replica 0."""
    built: List[Case] = [CASES[name](r) for r in range(size)]
    models = [b[0] for b in built]
    for m in models[1:]:
        m.load_state_dict(models[0].state_dict())
    opts = [b[1] for b in built]
    X, y, kw = built[0][2], built[0][3], built[0][4]
    rng = np.random.default_rng(kw["seed"])
    fn = loss()
    n, bs = len(X), kw["batch_size"]
    for _ in range(kw["epochs"]):
        order = rng.permutation(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            total = None
            for r, (model, opt) in enumerate(zip(models, opts)):
                a, b = shard_bounds(len(idx), r, size)
                opt.zero_grad()
                fn(model(X[idx[a:b]]), y[idx[a:b]])
                model.backward(fn.backward())
                weighted = [np.multiply(p.grad, (b - a) / len(idx)) for p in model.parameters()]
                total = weighted if total is None else [t + w for t, w in zip(total, weighted)]
            for model, opt in zip(models, opts):
                for p, g in zip(model.parameters(), total):
                    p.grad = g
                opt.step()
        for name_b, _ in models[0].named_buffers():
            bufs = [dict(m.named_buffers())[name_b] for m in models]
            if bufs[0].dtype.kind == "f":
                total = bufs[0].copy()
                for buf in bufs[1:]:
                    total += buf
                for buf in bufs:
                    buf[...] = total / size
    return models[0]
