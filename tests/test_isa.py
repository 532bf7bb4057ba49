"""Every op under every instruction set this CPU has, in one test run.

The main run checks the default kernel context (the widest ISA the CPU has). This file
runs the op suites again in a fresh interpreter per other ISA (FASTBP_ISA picks the
context at import): GEMM (all transposes, both dtypes, edge tiles), convolutions by each
algorithm (Winograd, direct, im2col) forward and backward, pooling, activations,
softmax-cross-entropy, the margin loss, batchnorm, dropout masks and the optimizer
updates, each compared with its NumPy twin in fastbp.reference. On a CPU without AVX-512,
a build with the CMake option FASTBP_EMULATE_AVX512 (tools/emulate_avx512.sh; CI runs it)
compiles the AVX-512 context against SIMDe's portable intrinsics, and the same suites run
it through FASTBP_ISA=avx512 (build_info()["emulated_isas"]).
"""

import os
import pathlib
import subprocess
import sys

import pytest

import fastbp

TESTS = pathlib.Path(__file__).resolve().parent
# The op suites (NumPy-twin parity, odd shapes, thread counts), and GEMM's parity tests.
OP_SUITES = ["test_ops.py", "test_conv.py", "test_batchnorm.py", "test_dropout.py",
             "test_optim.py", "test_margin_loss.py"]
GEMM_PARITY = "reference or crosses or alpha_beta or transposed or bitwise or nan or k_zero"

INFO = fastbp.build_info()
OTHER_ISAS = [isa for isa in INFO["isas"] + INFO["emulated_isas"] if isa != INFO["isa"]]


def run_suites(isa, args):
    env = dict(os.environ, FASTBP_ISA=isa)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-x", "-p", "no:cacheprovider", *args],
        cwd=TESTS, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )


def report(result):
    """The end of the run's output (the last tests, by name) and both ends of its stderr: a
    crash's first lines (what aborted, the faulting test) come before a long stack."""
    err = result.stderr
    err = err if len(err) <= 6000 else err[:4000] + "\n[...]\n" + err[-2000:]
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{err}"


def test_default_context_is_the_widest():
    info = fastbp.build_info()
    assert info["isa"] == info["isas"][-1]


@pytest.mark.parametrize("isa", OTHER_ISAS)
def test_every_op_under_isa(isa):
    """The op suites pass with FASTBP_ISA=isa, and that context really ran."""
    probe = run_suites(isa, ["-k", "isa_in_use", __file__])
    assert probe.returncode == 0, report(probe)
    result = run_suites(isa, OP_SUITES)
    assert result.returncode == 0, report(result)
    gemm = run_suites(isa, ["test_gemm.py", "-k", GEMM_PARITY])
    assert gemm.returncode == 0, report(gemm)


def test_isa_in_use():
    """Under FASTBP_ISA (the subprocess runs above), the context is the one asked for."""
    wanted = os.environ.get("FASTBP_ISA")
    assert fastbp.build_info()["isa"] == (wanted or fastbp.build_info()["isas"][-1])
