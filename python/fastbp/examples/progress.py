"""An optional progress bar for the training loops.

tqdm is an optional dependency (the ``examples`` extra). :func:`steps` returns a
plain ``range`` unless a bar was asked for, tqdm imports, and stderr is a
terminal; the bar then shows up only once the loop has run for a second
(``delay``), so quick loops stay silent.
"""

from __future__ import annotations

import sys
from typing import Iterable

#: Seconds a loop must run before its bar appears.
DELAY_S = 1.0


def available() -> bool:
    """True when stderr is an interactive terminal and tqdm imports."""
    stream = sys.stderr
    if stream is None or not hasattr(stream, "isatty") or not stream.isatty():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def steps(n: int, desc: str = "", enabled: bool = False) -> Iterable[int]:
    """``range(n)``, wrapped in a tqdm bar on stderr when ``enabled`` and
    :func:`available`. The bar is removed when the loop ends."""
    if not enabled or not available():
        return range(n)
    from tqdm.auto import tqdm

    return tqdm(range(n), desc=desc, delay=DELAY_S, leave=False, file=sys.stderr, unit="step")
