"""The classic backpropagation exercises as training loops on fastbp.

Each loop returns a dict with at least ``loss_history`` and ``time_s`` (and,
where they apply, ``accuracy`` in [0, 1], ``params``: named arrays). The
``fastbp`` command (:mod:`fastbp.cli`) runs them; :data:`EXAMPLES`
is its registry.
"""

from fastbp.examples.cnn import cnn_digits, simple_convnet_mnist
from fastbp.examples.gates import gates
from fastbp.examples.linear_regression import linear_regression
from fastbp.examples.optimizers import optimizers
from fastbp.examples.parabola import parabola_gd, parabola_lesson
from fastbp.examples.registry import EXAMPLES
from fastbp.examples.sigmoid_mlp import sigmoid_mlp
from fastbp.examples.spiral import spiral_mlp, spiral_softmax

__all__ = [
    "EXAMPLES",
    "cnn_digits",
    "gates",
    "linear_regression",
    "optimizers",
    "parabola_gd",
    "parabola_lesson",
    "sigmoid_mlp",
    "simple_convnet_mnist",
    "spiral_mlp",
    "spiral_softmax",
]
