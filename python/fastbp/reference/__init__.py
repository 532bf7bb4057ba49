"""Pure-NumPy twins of every function in ``fastbp.ops``: same names, same
arguments, same results. They are the oracle for the tests and the baseline for
the benchmarks, written for clarity, not speed.

Each twin is also its op's declaration (``@op``, see :mod:`fastbp._optable`):
its signature and docstring are those of ``fastbp.ops.<name>``. The modules
hold one family each: dense (GEMM, activations, linear), conv (convolution,
pooling), batchnorm, dropout, losses, optim.
"""

from fastbp._optable import OPS
from fastbp.reference import batchnorm, conv, dense, dropout, losses, optim  # noqa: F401 (fill OPS)

globals().update({name: spec.twin for name, spec in OPS.items()})

__all__ = sorted(OPS)
