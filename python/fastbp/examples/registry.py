"""The runnable examples behind ``fastbp list`` / ``fastbp run`` / ``fastbp demo``.

:data:`EXAMPLES` maps a command-line name to a function returning a result
dict (``loss_history``, ``time_s`` and, where they apply, ``final_loss``,
``accuracy``, ``params``, ``summary``; see the loops). A new example registers
by adding one entry. The command passes ``seed=`` and ``progress=`` only to
functions whose signature has them, so a function may take neither.
``fastbp list`` shows the first line of each docstring.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from fastbp.examples.gates import gates
from fastbp.examples.linear_regression import linear_regression
from fastbp.examples.optimizers import optimizers
from fastbp.examples.parabola import parabola_lesson
from fastbp.examples.sigmoid_mlp import sigmoid_mlp
from fastbp.examples.spiral import spiral_mlp, spiral_softmax

EXAMPLES: Dict[str, Callable[..., Dict[str, Any]]] = {
    "parabola": parabola_lesson,
    "linear-regression": linear_regression,
    "gates": gates,
    "sigmoid-mlp": sigmoid_mlp,
    "spiral-softmax": spiral_softmax,
    "spiral-mlp": spiral_mlp,
    "optimizers": optimizers,
}
