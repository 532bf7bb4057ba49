"""Small data sets for the classic exercises, generated or loaded, and a
mini-batch iterator. Only re-exports; see the submodules."""

from fastbp.data.mnist import load_digits, load_idx, load_mnist
from fastbp.data.synthetic import minibatches, noisy_line, spiral

__all__ = ["load_digits", "load_idx", "load_mnist", "minibatches", "noisy_line", "spiral"]
