"""fastbp: backpropagation with explicit forward/backward layers on a C++ core.

The public surface, re-exported. See ``fastbp.ops`` for the low-level ops,
``fastbp.reference`` for their NumPy twins.
"""

from fastbp._core import build_info, get_num_threads, set_num_threads
from fastbp.ops import gemm, matmul

__version__: str = build_info()["version"]

__all__ = [
    "__version__",
    "build_info",
    "gemm",
    "get_num_threads",
    "matmul",
    "set_num_threads",
]
