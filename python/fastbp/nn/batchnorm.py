"""Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's conventions.

Shapes: N batch, C channels (``num_features``), L length, H W spatial.
``BatchNorm1d`` takes (N, C) or (N, C, L), ``BatchNorm2d`` (N, C, H, W); both
normalise each channel over every other axis. Forward and backward are one
``fastbp.ops`` call each (C++, deterministic per-channel sums).
"""

from __future__ import annotations

import numbers
from typing import Optional, Tuple

import numpy as np

from fastbp import ops
from fastbp.nn.dense import _layer_dtype, _positive_int
from fastbp.nn.module import Module, Parameter, as_input

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """Shared implementation; subclasses set ``_ndims`` (accepted input ndims)
    and ``_legend`` (the shapes named in errors)."""

    _ndims: Tuple[int, ...] = ()
    _legend = ""

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", name)
        self.dtype = _layer_dtype(dtype, name)
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not eps >= 0:
            raise ValueError(f"{name}: eps must be a float >= 0, got {eps!r}")
        self.eps = float(eps)
        if momentum is not None:
            if (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)
                    or not 0 <= momentum <= 1):
                raise ValueError(f"{name}: momentum must be a float in [0, 1] or None, "
                                 f"got {momentum!r}")
            momentum = float(momentum)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        c = self.num_features
        self.weight: Optional[Parameter] = Parameter(np.ones(c, self.dtype)) if affine else None
        self.bias: Optional[Parameter] = Parameter(np.zeros(c, self.dtype)) if affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, self.dtype))
            self.register_buffer("running_var", np.ones(c, self.dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        self._x: Optional[np.ndarray] = None
        self._stats: Optional[Tuple[np.ndarray, np.ndarray, bool]] = None

    def forward(self, x) -> np.ndarray:
        x = as_input(x, self.dtype, self)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{self._short_repr()}: input has shape {x.shape}, "
                             f"expected {self._legend} with C = {self.num_features}")
        batch_stats = self.training or not self.track_running_stats
        values = x.size // self.num_features
        if batch_stats and values <= 1:
            raise ValueError(f"{self._short_repr()}: expected more than 1 value per channel "
                             f"when training, got input shape {x.shape}")
        update = self.training and self.track_running_stats
        momentum = self.momentum
        if update:
            np.add(self.num_batches_tracked, 1, out=self.num_batches_tracked)
            if momentum is None:  # cumulative moving average, as PyTorch
                momentum = 1.0 / float(self.num_batches_tracked)
        w = None if self.weight is None else self.weight.data
        b = None if self.bias is None else self.bias.data
        rm = self.running_mean if self.track_running_stats and (update or not batch_stats) \
            else None
        rv = self.running_var if rm is not None else None
        y, mean, invstd = ops.batchnorm_forward(
            x, w, b, rm, rv, training=batch_stats, momentum=momentum or 0.0, eps=self.eps)
        self._x = x
        self._stats = (mean, invstd, batch_stats)
        return y

    def backward(self, dout) -> np.ndarray:
        """Returns dx; adds ``sum(dout * xhat)`` into ``weight.grad`` and ``sum(dout)``
        into ``bias.grad`` per channel. In training mode the batch statistics'
        dependence on x is included; in eval mode they are constants."""
        x = self._require_cache("_x")
        mean, invstd, batch_stats = self._stats
        dout = as_input(dout, self.dtype, self, "dout")
        if dout.shape != x.shape:
            raise ValueError(f"{self._short_repr()}: dout has shape {dout.shape}, expected "
                             f"{x.shape} (the shape of the last forward input)")
        w = None if self.weight is None else self.weight
        return ops.batchnorm_backward(
            dout, x, mean, invstd, None if w is None else w.data,
            None if w is None else w.grad, None if self.bias is None else self.bias.grad,
            training=batch_stats)

    def extra_repr(self) -> str:
        text = f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, " \
               f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype.name}"
        return text


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, per channel over N (and L).

    ``y = weight * (x - mean) / sqrt(var + eps) + bias`` with PyTorch's defaults
    and semantics:

    * ``training`` (after ``train()``, the default): mean and biased variance of
      the batch; the running statistics are updated as
      ``running = (1 - momentum) * running + momentum * batch_stat`` using the
      *unbiased* batch variance (``momentum=None``: a cumulative average);
      ``num_batches_tracked`` counts the updates.
    * after ``eval()``: ``running_mean`` and ``running_var`` are used.

    Args:
        num_features: C.
        eps: added to the variance (1e-5).
        momentum: 0.1, or None for a cumulative moving average.
        affine: learnable per-channel ``weight`` (ones) and ``bias`` (zeros).
        track_running_stats: keep the ``running_mean`` (zeros), ``running_var``
            (ones) and ``num_batches_tracked`` buffers; without them batch
            statistics are used in eval mode too.
        dtype: float32 or float64 (parameters, buffers and computation).

    A training batch needs more than one value per channel (``ValueError``).
    """

    _ndims = (2, 3)
    _legend = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Spatial batch norm over (N, C, H, W) input, per channel over N, H and W.

    The same arguments, parameters, buffers and train/eval behaviour as
    :class:`BatchNorm1d` (PyTorch's ``BatchNorm2d``).
    """

    _ndims = (4,)
    _legend = "(N, C, H, W)"
