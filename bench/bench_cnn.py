"""CNN training-step benchmarks (pytest-benchmark): fastbp against the NumPy
reference and PyTorch (when installed), one step = forward, softmax-cross-entropy,
backward, SGD update.

* SimpleConvNet ("Deep Learning from Scratch"), batch 100, 1x28x28: conv 30 5x5 -
  ReLU - max-pool 2 - linear 4320-100 - ReLU - linear 100-10 (the workload of
  ``fastbp bench``, :func:`fastbp.bench.simple_convnet_workload`; its NumPy step is
  composed from the ``fastbp.reference`` ops).
* The digits CNN of ``fastbp run cnn``, batch 32, 1x8x8: conv 16 3x3 pad 1 - ReLU -
  max-pool 2 - linear 256-64 - ReLU - linear 64-10.

Run: python -m pytest bench/bench_cnn.py --benchmark-group-by=group
Compare medians within one run; to give NumPy its best BLAS kernel, unset
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the command (see the design notes).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref
from fastbp.bench import simple_convnet_workload
from fastbp.examples.cnn import digits_cnn
from fastbp.losses import SoftmaxCrossEntropy
from fastbp.optim import SGD


@pytest.fixture(scope="module")
def simple_convnet():
    return simple_convnet_workload(100)


@pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
def test_simple_convnet_step(benchmark, simple_convnet, impl):
    benchmark.group = "SimpleConvNet training step, batch 100, 1x28x28"
    if impl not in simple_convnet.impls:
        pytest.skip(f"{impl} is not installed")
    benchmark(simple_convnet.impls[impl])


def _digits_batch(batch=32):
    rng = np.random.default_rng(0)
    return rng.random((batch, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, batch)


def _fastbp_digits_step():
    X, y = _digits_batch()
    model = digits_cnn(rng=0)
    loss = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step():
        opt.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        opt.step()

    return step


def _numpy_digits_step():
    X, y = _digits_batch()
    rng = np.random.default_rng(0)
    p = {
        "w1": (0.3 * rng.standard_normal((16, 1, 3, 3))).astype(np.float32),
        "b1": np.zeros(16, np.float32),
        "w2": (0.09 * rng.standard_normal((256, 64))).astype(np.float32),
        "b2": np.zeros(64, np.float32),
        "w3": (0.18 * rng.standard_normal((64, 10))).astype(np.float32),
        "b3": np.zeros(10, np.float32),
    }
    v = {k: np.zeros_like(a) for k, a in p.items()}

    def step():
        c = ref.conv2d_forward(X, p["w1"], p["b1"], 1, 1)
        r = ref.relu_forward(c)
        pooled, argmax = ref.max_pool2d_forward(r, 2)
        flat = pooled.reshape(len(X), -1)
        h = ref.linear_forward(flat, p["w2"], p["b2"])
        hr = ref.relu_forward(h)
        scores = ref.linear_forward(hr, p["w3"], p["b3"])
        _, dscores = ref.softmax_cross_entropy(scores, y)
        dhr, g3w, g3b = ref.linear_backward(dscores, hr, p["w3"])
        dflat, g2w, g2b = ref.linear_backward(ref.relu_backward(dhr, h), flat, p["w2"])
        dr = ref.max_pool2d_backward(dflat.reshape(pooled.shape), argmax, r.shape)
        _, g1w, g1b = ref.conv2d_backward(ref.relu_backward(dr, c), X, p["w1"], 1, 1)
        grads = {"w1": g1w, "b1": g1b, "w2": g2w, "b2": g2b, "w3": g3w, "b3": g3b}
        for k, g in grads.items():
            ref.sgd_update(p[k], g, v[k], lr=0.05, momentum=0.9, nesterov=False,
                           weight_decay=0.0)

    return step


def _torch_digits_step():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(fastbp.get_num_threads())
    X, y = _digits_batch()
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        criterion(model(tX), ty).backward()
        opt.step()

    return step


@pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
def test_digits_cnn_step(benchmark, impl):
    benchmark.group = "digits CNN training step, batch 32, 1x8x8"
    make = {"fastbp": _fastbp_digits_step, "numpy": _numpy_digits_step,
            "torch": _torch_digits_step}[impl]
    benchmark(make())
