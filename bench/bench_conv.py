"""Convolution benchmarks (pytest-benchmark): conv 3x3, padding 1, forward + backward,
fastbp against the NumPy reference and PyTorch (when installed).

Run: python -m pytest bench/bench_conv.py --benchmark-group-by=group
Compare medians within one run; to give NumPy its best BLAS kernel, unset
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the command (see the design notes).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastbp
from fastbp import ops
from fastbp import reference as ref

CASES = [((64, 3, 32, 32), 32), ((64, 32, 16, 16), 64)]  # (N, C, H, W) -> OC


def _data(shape, oc):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((oc, shape[1], 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    dout = rng.standard_normal((shape[0], oc) + shape[2:]).astype(np.float32)
    return x, w, b, dout


def _step(mod, x, w, b, dout):
    def run():
        mod.conv2d_forward(x, w, b, 1, 1)
        return mod.conv2d_backward(dout, x, w, 1, 1)

    return run


def _torch_step(x, w, b, dout):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(fastbp.get_num_threads())
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    tdout = torch.from_numpy(dout)

    def run():
        for t in (tx, tw, tb):
            t.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tdout)

    return run


@pytest.mark.parametrize("impl", ["fastbp", "numpy", "torch"])
@pytest.mark.parametrize("shape, oc", CASES, ids=[f"{s}->{oc}" for s, oc in CASES])
def test_conv3x3_forward_backward(benchmark, shape, oc, impl):
    benchmark.group = f"conv3x3 pad1 fwd+bwd {shape}->{oc}"
    x, w, b, dout = _data(shape, oc)
    if impl == "torch":
        step = _torch_step(x, w, b, dout)
    else:
        step = _step(ops if impl == "fastbp" else ref, x, w, b, dout)
    benchmark(step)
