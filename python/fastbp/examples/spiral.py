"""The CS231n spiral classifiers: a linear softmax classifier and a 2-layer ReLU net.

Both follow the CS231n notes ("Putting it together: minimal neural network
case study") step for step: full-batch gradient descent, step size 1.0, L2
regularisation 1e-3 on the weights, weights initialised to ``0.01 * randn``
and biases to 0. The data and the initial weights come from one legacy
``np.random.seed(seed)`` stream in the notes' order (data, then W, then W2),
so ``seed=0`` reproduces the notes' numbers: softmax loss 0.786 and 49%
training accuracy; 2-layer net loss 0.245 and 98%.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from fastbp.data import spiral
from fastbp.distributed import DistributedOptimizer, broadcast_parameters, global_sum, init, shard
from fastbp.examples._common import Stopwatch, check_positive_int, check_real, copy_params
from fastbp.examples.progress import steps as progress_steps
from fastbp.losses import SoftmaxCrossEntropy, l2_penalty
from fastbp.nn import Linear, Module, ReLU, Sequential
from fastbp.optim import SGD

#: Standard deviation of the initial weights in the notes.
INIT_STD = 0.01


def _accuracy(model: Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model(X), axis=1) == y))


def _train(model, X, y, steps, lr, reg, desc, progress, distributed=False):
    """Full-batch training: forward, loss + L2, backward, SGD update. With
    ``distributed``, data parallel over MPI: each rank takes its shard of the
    batch, the gradients and the data loss are summed over the ranks, each
    weighted by its shard's share of the batch."""
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), lr=lr)
    share = 1.0
    if distributed:
        opt, X, y, share = _data_parallel(model, opt, X, y)
    data_losses, reg_losses = np.empty(steps), np.empty(steps)
    with Stopwatch() as sw:
        for i in progress_steps(steps, desc, progress):
            opt.zero_grad()
            data_loss = loss_fn(model(X), y)
            model.backward(loss_fn.backward())
            reg_loss = l2_penalty(model, reg)
            opt.step()
            data_losses[i], reg_losses[i] = data_loss * share, reg_loss
    if distributed:  # the other shards' data losses (the L2 term is the same on every rank)
        data_losses = global_sum(data_losses)
    return data_losses + reg_losses, sw.seconds


def _data_parallel(model, opt, X, y):
    """Rank 0's weights on every rank; the distributed optimizer, this rank's
    shard of (X, y) and its share of the batch."""
    size = init().size
    if len(X) < size:
        raise ValueError(f"distributed: {len(X)} samples cannot give each of {size} ranks one")
    broadcast_parameters(model)
    opt = DistributedOptimizer(opt)
    X_local, y_local = shard(X, y)
    opt.set_shard_sizes(len(X_local), len(X))
    return opt, X_local, y_local, len(X_local) / len(X)


def _result(name, model, X, y, losses, seconds, params):
    acc = _accuracy(model, X, y)
    return {
        "name": name,
        "loss_history": losses,
        "final_loss": float(losses[-1]),
        "accuracy": acc,
        "params": params,
        "model": model,
        "data": (X, y),
        "time_s": seconds,
        "summary": f"accuracy {acc:.1%}",
    }


def _setup(n_per_class, n_classes, noise, seed):
    rs = np.random.RandomState(seed)
    X, y = spiral(n_per_class, n_classes, noise, seed=rs)
    return rs, X, y


def spiral_softmax(
    steps: int = 200,
    lr: float = 1.0,
    reg: float = 1e-3,
    seed: int = 0,
    *,
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    dtype=np.float32,
    progress: bool = False,
) -> Dict[str, Any]:
    """Linear softmax classifier on the CS231n spiral (about 49% accuracy).

    ``scores = X W + b``.

    Full-batch gradient descent; with the defaults (200 steps, step 1.0,
    reg 1e-3, seed 0) the loss ends near 0.79 and the training accuracy near
    49%: a linear boundary cannot follow the arms.

    Returns a dict: ``loss_history`` (data + L2 loss before each update),
    ``final_loss``, ``accuracy``, ``params`` ``{"W", "b"}``, ``model``,
    ``data`` (X, y), ``time_s``, ``summary``.
    """
    steps = check_positive_int(steps, "steps")
    lr = check_real(lr, "lr", positive=True)
    reg = check_real(reg, "reg", nonneg=True)
    rs, X, y = _setup(n_per_class, n_classes, noise, seed)
    model = Linear(2, n_classes, init=0.0, dtype=dtype, input_grad=False)
    model.weight.data[...] = INIT_STD * rs.randn(2, n_classes)
    losses, seconds = _train(model, X, y, steps, lr, reg, "spiral softmax", progress)
    params = copy_params({"W": model.weight.data, "b": model.bias.data})
    return _result("spiral-softmax", model, X, y, losses, seconds, params)


def spiral_mlp(
    steps: int = 10000,
    lr: float = 1.0,
    reg: float = 1e-3,
    seed: int = 0,
    *,
    hidden: int = 100,
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    dtype=np.float32,
    progress: bool = False,
    distributed: bool = False,
) -> Dict[str, Any]:
    """2-layer ReLU net (2-100-3) on the CS231n spiral (98% accuracy).

    ``Linear(2, hidden) -> ReLU -> Linear(hidden, K)``.

    Full-batch gradient descent; with the defaults (2-100-3, 10000 steps,
    step 1.0, reg 1e-3, seed 0) the loss ends near 0.25 and the training
    accuracy at 98%. With ``distributed`` it trains data parallel over MPI
    (run under ``mpiexec``; see :mod:`fastbp.distributed`): each rank computes
    the gradient of its shard of the batch.

    Returns a dict like :func:`spiral_softmax`'s, with
    ``params`` ``{"W1", "b1", "W2", "b2"}``.
    """
    steps = check_positive_int(steps, "steps")
    lr = check_real(lr, "lr", positive=True)
    reg = check_real(reg, "reg", nonneg=True)
    hidden = check_positive_int(hidden, "hidden")
    rs, X, y = _setup(n_per_class, n_classes, noise, seed)
    fc1 = Linear(2, hidden, init=0.0, dtype=dtype, input_grad=False)
    fc2 = Linear(hidden, n_classes, init=0.0, dtype=dtype)
    fc1.weight.data[...] = INIT_STD * rs.randn(2, hidden)
    fc2.weight.data[...] = INIT_STD * rs.randn(hidden, n_classes)
    model = Sequential(fc1, ReLU(), fc2)
    losses, seconds = _train(model, X, y, steps, lr, reg, "spiral 2-layer net", progress,
                             distributed)
    params = copy_params(
        {"W1": fc1.weight.data, "b1": fc1.bias.data, "W2": fc2.weight.data, "b2": fc2.bias.data}
    )
    return _result("spiral-mlp", model, X, y, losses, seconds, params)
