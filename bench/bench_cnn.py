"""CNN training-step benchmarks (pytest-benchmark): fastbp against its NumPy
baseline and PyTorch (when installed), one step = forward, softmax-cross-entropy,
backward, SGD update. The workloads are those of :mod:`fastbp.bench.workloads`:

* SimpleConvNet ("Deep Learning from Scratch"), batch 100, 1x28x28: conv 30 5x5 -
  ReLU - max-pool 2 - linear 4320-100 - ReLU - linear 100-10 (also a row of
  ``fastbp bench``);
* the digits CNN of ``fastbp run cnn``, batch 32, 1x8x8: conv 16 3x3 pad 1 - ReLU -
  max-pool 2 - linear 256-64 - ReLU - linear 64-10, SGD with momentum.

Run: python -m pytest bench/bench_cnn.py --benchmark-group-by=group
Compare medians within one run; to give NumPy its best BLAS kernel, unset
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the command (see the design notes).
"""

from __future__ import annotations

import pytest

from fastbp.bench.workloads import digits_cnn_workload, simple_convnet_workload


@pytest.fixture(scope="module")
def simple_convnet():
    return simple_convnet_workload(100)


@pytest.fixture(scope="module")
def digits_cnn():
    return digits_cnn_workload(32)


@pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
def test_simple_convnet_step(benchmark, simple_convnet, impl):
    benchmark.group = "SimpleConvNet training step, batch 100, 1x28x28"
    if impl not in simple_convnet.impls:
        pytest.skip(f"{impl} is not installed")
    benchmark(simple_convnet.impls[impl])


@pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
def test_digits_cnn_step(benchmark, digits_cnn, impl):
    benchmark.group = "digits CNN training step, batch 32, 1x8x8"
    if impl not in digits_cnn.impls:
        pytest.skip(f"{impl} is not installed")
    benchmark(digits_cnn.impls[impl])
