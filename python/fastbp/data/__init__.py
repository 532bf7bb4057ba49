"""Small data sets for the classic exercises, generated or loaded, a
mini-batch iterator and a stratified train/test split. Only re-exports; see the
submodules."""

from fastbp.data.mnist import load_digits, load_idx, load_mnist
from fastbp.data.split import train_test_split
from fastbp.data.synthetic import minibatches, noisy_line, spiral

__all__ = ["load_digits", "load_idx", "load_mnist", "minibatches", "noisy_line", "spiral",
           "train_test_split"]
