"""Layers with explicit forward/backward passes.

``Module`` and ``Parameter`` are the protocol (see :mod:`fastbp.nn.module`);
every layer's math runs in ``fastbp.ops``.
"""

from fastbp.nn.batchnorm import BatchNorm1d, BatchNorm2d
from fastbp.nn.container import Sequential
from fastbp.nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from fastbp.nn.dense import GELU, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from fastbp.nn.dropout import Dropout
from fastbp.nn.module import Module, Parameter

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GELU",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
]
