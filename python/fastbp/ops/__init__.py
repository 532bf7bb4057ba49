"""Low-level ops on the C++ core. Each has a NumPy twin of the same name and
signature in ``fastbp.reference``, which declares it (see :mod:`fastbp._optable`):
``help(fastbp.ops.<name>)`` shows the twin's signature and docstring.

Arrays in are NumPy float32 or float64 arrays (any layout; strided input is
copied once); operands of one call must share a dtype (no silent casts). Arrays
out are fresh, 64-byte aligned, owned by the core and viewed by NumPy without a
copy.
"""

from fastbp import _core
from fastbp._optable import OPS, bind
from fastbp import reference as _reference  # noqa: F401 (declares every op in OPS)

globals().update({name: bind(spec, _core) for name, spec in OPS.items()})

__all__ = sorted(OPS)
