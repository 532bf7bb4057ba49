"""The 2-2-2 sigmoid network trained with the delta rule, the classic worked example.

Matt Mazur's "A Step by Step Backpropagation Example": inputs 0.05, 0.10,
targets 0.01, 0.99, every neuron a sigmoid, cost ``E = 0.5 * sum((out - t)**2)``,
learning rate 0.5. The weights, named as in the article::

    h1 = sig(w1 i1 + w2 i2 + b1)     o1 = sig(w5 h1 + w6 h2 + b2)
    h2 = sig(w3 i1 + w4 i2 + b1)     o2 = sig(w7 h1 + w8 h2 + b2)

start at w1..w8 = .15 .20 .25 .30 .40 .45 .50 .55, b1 = .35, b2 = .60. In
fastbp's layout (``y = x @ W + b``, W of shape (in, out)) that is
``W1 = [[w1, w3], [w2, w4]]`` and ``W2 = [[w5, w7], [w6, w8]]``. The total
error before the first update is 0.298371109; after it w5 is 0.35891648. The
article keeps the biases fixed (so does the default here); its error after
10000 updates is 0.0000351085.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from fastbp.examples._common import Stopwatch, check_positive_int, check_real, copy_params
from fastbp.examples.progress import steps as progress_steps
from fastbp.losses import SquaredError
from fastbp.nn import Linear, Sequential, Sigmoid
from fastbp.optim import SGD

INPUTS = np.array([[0.05, 0.10]])
TARGETS = np.array([[0.01, 0.99]])
W1 = np.array([[0.15, 0.25], [0.20, 0.30]])
B1 = np.array([0.35, 0.35])
W2 = np.array([[0.40, 0.50], [0.45, 0.55]])
B2 = np.array([0.60, 0.60])

#: Where each named weight of the article sits: name -> (layer, row, column).
WEIGHT_INDEX = {
    "w1": (0, 0, 0),
    "w2": (0, 1, 0),
    "w3": (0, 0, 1),
    "w4": (0, 1, 1),
    "w5": (1, 0, 0),
    "w6": (1, 1, 0),
    "w7": (1, 0, 1),
    "w8": (1, 1, 1),
}


def named_weights(model: Sequential) -> Dict[str, float]:
    """The article's w1..w8, b1, b2 read from the 2-2-2 ``model``."""
    layers = (model[0], model[2])
    out = {k: float(layers[i].weight.data[r, c]) for k, (i, r, c) in WEIGHT_INDEX.items()}
    out["b1"] = float(layers[0].bias.data[0])
    out["b2"] = float(layers[1].bias.data[0])
    return out


def build_network(dtype=np.float64) -> Sequential:
    """The 2-2-2 sigmoid network with the article's initial weights."""
    fc1 = Linear(2, 2, init=0.0, dtype=dtype)
    fc2 = Linear(2, 2, init=0.0, dtype=dtype)
    fc1.weight.data[...] = W1
    fc1.bias.data[...] = B1
    fc2.weight.data[...] = W2
    fc2.bias.data[...] = B2
    return Sequential(fc1, Sigmoid(), fc2, Sigmoid())


def sigmoid_mlp(
    steps: int = 10000,
    lr: float = 0.5,
    *,
    train_biases: bool = False,
    dtype=np.float64,
    progress: bool = False,
) -> Dict[str, Any]:
    """The 2-2-2 sigmoid network of the classic worked example, trained by the delta rule.

    Each step: forward, ``E = 0.5 sum((out - target)**2)``
    (:class:`fastbp.losses.SquaredError`), backward (the delta rule: the output
    delta ``(out - t) out (1 - out)`` is what ``Sigmoid.backward`` makes of
    ``out - t``; the hidden deltas follow through ``W2^T``), and an SGD update
    of the weights (and of the biases with ``train_biases``). float64 by
    default so the printed digits of the article can be compared.

    Returns a dict: ``loss_history`` (E before each update), ``final_loss``
    (E after the last update), ``outputs`` (final), ``first_update`` (the
    named weights after step 1), ``weights`` (named, final), ``params``
    ``{"W1", "b1", "W2", "b2"}``, ``model``, ``time_s``, ``summary``.
    """
    steps = check_positive_int(steps, "steps")
    lr = check_real(lr, "lr", positive=True)
    model = build_network(dtype)
    loss_fn = SquaredError()
    trained = [p for p in model.parameters() if train_biases or p.data.ndim == 2]
    opt = SGD(trained, lr=lr)
    x = INPUTS.astype(dtype)
    t = TARGETS.astype(dtype)
    losses = np.empty(steps)
    first_update: Dict[str, float] = {}
    with Stopwatch() as sw:
        for i in progress_steps(steps, "sigmoid 2-2-2", progress):
            opt.zero_grad()
            losses[i] = loss_fn(model(x), t)
            model.backward(loss_fn.backward())
            opt.step()
            if i == 0:
                first_update = named_weights(model)
    out = model(x)
    final_loss = loss_fn(out, t)
    fc1, fc2 = model[0], model[2]
    return {
        "name": "sigmoid-mlp",
        "loss_history": losses,
        "final_loss": final_loss,
        "outputs": np.array(out[0], copy=True),
        "first_update": first_update,
        "weights": named_weights(model),
        "params": copy_params(
            {"W1": fc1.weight.data, "b1": fc1.bias.data, "W2": fc2.weight.data, "b2": fc2.bias.data}
        ),
        "model": model,
        "time_s": sw.seconds,
        "summary": f"E {losses[0]:.9f} -> {final_loss:.3g}, out ({out[0, 0]:.4f}, {out[0, 1]:.4f})",
    }
