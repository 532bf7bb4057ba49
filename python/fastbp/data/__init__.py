"""Small data sets for the classic exercises, generated or loaded, and a
mini-batch iterator. Only re-exports; see the submodules."""

from fastbp.data.synthetic import minibatches, noisy_line, spiral

__all__ = ["minibatches", "noisy_line", "spiral"]
