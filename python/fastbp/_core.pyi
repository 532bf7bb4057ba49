"""
fastbp's C++ core. Use the public wrappers in fastbp and fastbp.ops.
"""
from __future__ import annotations
import numpy
import typing
__all__: list[str] = ['MAX_NUM_THREADS', 'adagrad_update', 'adagrad_update_many', 'adam_update', 'adam_update_many', 'avg_pool2d_backward', 'avg_pool2d_forward', 'batchnorm_backward', 'batchnorm_forward', 'build_info', 'cached_bytes', 'col2im', 'conv2d_backward', 'conv2d_forward', 'conv2d_relu_max_pool2d_backward', 'conv2d_relu_max_pool2d_forward', 'dropout_backward', 'dropout_forward', 'empty_cache', 'fma_peak_gflops', 'gelu_backward', 'gelu_forward', 'gemm', 'get_num_threads', 'im2col', 'l2_penalty_accumulate', 'leaky_relu_backward', 'leaky_relu_forward', 'linear_backward', 'linear_backward_accumulate', 'linear_forward', 'linear_relu_backward_accumulate', 'linear_relu_forward', 'matmul', 'max_pool2d_backward', 'max_pool2d_forward', 'multi_margin_loss', 'relu_backward', 'relu_forward', 'relu_max_pool2d_backward', 'relu_max_pool2d_forward', 'rmsprop_update', 'rmsprop_update_many', 'set_num_threads', 'sgd_update', 'sgd_update_many', 'sigmoid_backward', 'sigmoid_forward', 'softmax_cross_entropy', 'tanh_backward', 'tanh_forward']
def adagrad_update(param: typing.Any, grad: typing.Any, sum: typing.Any, *, step: typing.SupportsInt | typing.SupportsIndex, lr: typing.SupportsFloat | typing.SupportsIndex = 0.01, lr_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-10, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    One AdaGrad step in place on param and sum; returns None.
    """
def adagrad_update_many(params: typing.Any, grads: typing.Any, sums: typing.Any, *, step: typing.SupportsInt | typing.SupportsIndex, lr: typing.SupportsFloat | typing.SupportsIndex = 0.01, lr_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-10, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    adagrad_update on each entry of the lists; all checked before any update.
    """
def adam_update(param: typing.Any, grad: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, max_exp_avg_sq: typing.Any = None, *, step: typing.SupportsInt | typing.SupportsIndex, lr: typing.SupportsFloat | typing.SupportsIndex = 0.001, beta1: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta2: typing.SupportsFloat | typing.SupportsIndex = 0.999, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-08, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, amsgrad: bool = False, decoupled_weight_decay: bool = False) -> None:
    """
    One Adam (AdamW when decoupled_weight_decay) step in place; returns None.
    """
def adam_update_many(params: typing.Any, grads: typing.Any, exp_avgs: typing.Any, exp_avg_sqs: typing.Any, max_exp_avg_sqs: typing.Any = None, *, step: typing.SupportsInt | typing.SupportsIndex, lr: typing.SupportsFloat | typing.SupportsIndex = 0.001, beta1: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta2: typing.SupportsFloat | typing.SupportsIndex = 0.999, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-08, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, amsgrad: bool = False, decoupled_weight_decay: bool = False) -> None:
    """
    adam_update on each entry of the lists; all checked before any update.
    """
def avg_pool2d_backward(dout: typing.Any, x_shape: typing.Any, kernel_size: typing.Any, stride: typing.Any = None) -> numpy.ndarray:
    """
    dx: each dout / (KH * KW) spread over its window
    """
def avg_pool2d_forward(x: typing.Any, kernel_size: typing.Any, stride: typing.Any = None) -> numpy.ndarray:
    """
    x (N, C, H, W) -> window means (N, C, OH, OW)
    """
def batchnorm_backward(dout: typing.Any, x: typing.Any, mean: typing.Any, invstd: typing.Any, gamma: typing.Any, gamma_grad: typing.Any, beta_grad: typing.Any, *, training: bool = True) -> numpy.ndarray:
    """
    dx of batch norm; adds dgamma, dbeta into gamma_grad, beta_grad when given.
    """
def batchnorm_forward(x: typing.Any, gamma: typing.Any, beta: typing.Any, running_mean: typing.Any, running_var: typing.Any, *, training: bool, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.1, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-05) -> tuple:
    """
    (y, mean, invstd) of batch norm over all axes but 1; updates running stats in training.
    """
def build_info() -> dict:
    """
    Version, ISA in use and available, OpenMP, threads, compiler.
    """
def cached_bytes() -> int:
    """
    Bytes of freed result buffers fastbp keeps for reuse (at most 256 MiB).
    """
def col2im(cols: typing.Any, x_shape: typing.Any, kernel_size: typing.Any, stride: typing.Any = 1, padding: typing.Any = 0) -> numpy.ndarray:
    """
    Adjoint of im2col: cols (N*OH*OW, C*KH*KW) -> x (N, C, H, W), overlaps summed
    """
def conv2d_backward(dout: typing.Any, x: typing.Any, w: typing.Any, stride: typing.Any = 1, padding: typing.Any = 0, *, input_grad: bool = True) -> tuple:
    """
    dout (N, OC, OH, OW) -> (dx, dw, db) of conv2d_forward; dx is None without input_grad
    """
def conv2d_forward(x: typing.Any, w: typing.Any, b: typing.Any = None, stride: typing.Any = 1, padding: typing.Any = 0) -> numpy.ndarray:
    """
    x (N, C, H, W), w (OC, C, KH, KW), b (OC,) or None -> y (N, OC, OH, OW)
    """
def conv2d_relu_max_pool2d_backward(dout: typing.Any, argmax: typing.Any, y: typing.Any, x: typing.Any, w: typing.Any, stride: typing.Any, padding: typing.Any, *, input_grad: bool = True) -> tuple:
    """
    (dx, dw, db) of conv2d_relu_max_pool2d_forward, whose outputs were y and argmax
    """
def conv2d_relu_max_pool2d_forward(x: typing.Any, w: typing.Any, b: typing.Any, stride: typing.Any, padding: typing.Any, kernel_size: typing.Any, pool_stride: typing.Any = None) -> tuple:
    """
    relu_max_pool2d_forward(conv2d_forward(x, w, b, stride, padding), kernel_size, pool_stride), without storing the convolution's output
    """
def dropout_backward(dout: typing.Any, mask: typing.Any) -> numpy.ndarray:
    """
    dx = dout * mask.
    """
def dropout_forward(x: typing.Any, p: typing.SupportsFloat | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    (out, mask) of inverted dropout; mask is 0 or 1 / (1 - p).
    """
def empty_cache() -> int:
    """
    Returns the cached result buffers to the system; returns how many bytes.
    """
def fma_peak_gflops(threads: typing.Any, seconds: typing.SupportsFloat | typing.SupportsIndex = 0.3) -> float:
    """
    Measured float32 multiply-add peak (GFLOP/s) of `threads` threads with the active ISA.
    """
def gelu_backward(dout: typing.Any, x: typing.Any) -> numpy.ndarray:
    """
    dout * gelu'(x), x the forward input
    """
def gelu_forward(x: typing.Any) -> numpy.ndarray:
    """
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), PyTorch's approximate='tanh' GELU
    """
def gemm(a: typing.Any, b: typing.Any, c: typing.Any = None, *, trans_a: bool = False, trans_b: bool = False, alpha: typing.SupportsFloat | typing.SupportsIndex = 1.0, beta: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> typing.Any:
    """
    alpha * op(a) @ op(b) + beta * c; returns c (updated in place) or a new array.
    """
def get_num_threads() -> int:
    """
    Threads fastbp's parallel regions use.
    """
def im2col(x: typing.Any, kernel_size: typing.Any, stride: typing.Any = 1, padding: typing.Any = 0) -> numpy.ndarray:
    """
    x (N, C, H, W) -> cols (N*OH*OW, C*KH*KW), rows (n, oh, ow), columns (c, kh, kw)
    """
def l2_penalty_accumulate(grad: typing.Any, w: typing.Any, reg: typing.SupportsFloat | typing.SupportsIndex) -> float:
    """
    grad += reg * w in place; returns 0.5 * reg * sum(w**2).
    """
def leaky_relu_backward(dout: typing.Any, x: typing.Any, slope: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> numpy.ndarray:
    """
    dout where x > 0, else slope * dout
    """
def leaky_relu_forward(x: typing.Any, slope: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> numpy.ndarray:
    """
    x where x > 0, else slope * x
    """
def linear_backward(dout: typing.Any, x: typing.Any, w: typing.Any) -> tuple:
    """
    (dx, dw, db) of y = x @ w + b
    """
def linear_backward_accumulate(dout: typing.Any, x: typing.Any, w: typing.Any, w_grad: typing.Any, b_grad: typing.Any = None, *, input_grad: bool = True, accumulate: bool = True) -> typing.Any:
    """
    Returns dx (None without input_grad); adds dw into w_grad and db into b_grad (or skips it when None), in place; with accumulate=False, writes them instead (the old contents are never read).
    """
def linear_forward(x: typing.Any, w: typing.Any, b: typing.Any = None) -> numpy.ndarray:
    """
    x @ w + b for x (N, D), w (D, M), b (M,) or None
    """
def linear_relu_backward_accumulate(dout: typing.Any, x: typing.Any, w: typing.Any, y: typing.Any, w_grad: typing.Any, b_grad: typing.Any = None, *, input_grad: bool = True, accumulate: bool = True) -> typing.Any:
    """
    linear_backward_accumulate of dout where y > 0 (else 0): the backward of linear_relu_forward, whose output is y.
    """
def linear_relu_forward(x: typing.Any, w: typing.Any, b: typing.Any = None) -> numpy.ndarray:
    """
    relu(x @ w + b) in one call
    """
def matmul(a: typing.Any, b: typing.Any) -> typing.Any:
    """
    a @ b for 2-D float arrays of one dtype.
    """
def max_pool2d_backward(dout: typing.Any, argmax: typing.Any, x_shape: typing.Any) -> numpy.ndarray:
    """
    dx with dx.ravel()[argmax] += dout
    """
def max_pool2d_forward(x: typing.Any, kernel_size: typing.Any, stride: typing.Any = None) -> tuple:
    """
    x (N, C, H, W) -> (y (N, C, OH, OW), argmax int64 flat indices into x)
    """
def multi_margin_loss(scores: typing.Any, labels: typing.Any, *, p: typing.SupportsInt | typing.SupportsIndex = 1, margin: typing.SupportsFloat | typing.SupportsIndex = 1.0, reduction: str = 'mean') -> tuple:
    """
    (loss, dscores) of the multiclass hinge loss (PyTorch's MultiMarginLoss).
    """
def relu_backward(dout: typing.Any, x: typing.Any) -> numpy.ndarray:
    """
    dout where x > 0, else 0
    """
def relu_forward(x: typing.Any) -> numpy.ndarray:
    """
    max(x, 0)
    """
def relu_max_pool2d_backward(dout: typing.Any, argmax: typing.Any, y: typing.Any, x_shape: typing.Any) -> numpy.ndarray:
    """
    dx of relu_max_pool2d_forward: dout routed to argmax where y > 0
    """
def relu_max_pool2d_forward(x: typing.Any, kernel_size: typing.Any, stride: typing.Any = None) -> tuple:
    """
    max_pool2d_forward(relu(x))'s y in one pass; argmax indexes x's own maxima
    """
def rmsprop_update(param: typing.Any, grad: typing.Any, square_avg: typing.Any, grad_avg: typing.Any = None, buf: typing.Any = None, *, lr: typing.SupportsFloat | typing.SupportsIndex = 0.01, alpha: typing.SupportsFloat | typing.SupportsIndex = 0.99, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-08, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.0, centered: bool = False) -> None:
    """
    One RMSprop step in place on param and its state; returns None.
    """
def rmsprop_update_many(params: typing.Any, grads: typing.Any, square_avgs: typing.Any, grad_avgs: typing.Any = None, bufs: typing.Any = None, *, lr: typing.SupportsFloat | typing.SupportsIndex = 0.01, alpha: typing.SupportsFloat | typing.SupportsIndex = 0.99, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-08, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.0, centered: bool = False) -> None:
    """
    rmsprop_update on each entry of the lists; all checked before any update.
    """
def set_num_threads(n: typing.Any) -> None:
    """
    Set the threads fastbp's parallel regions use (1 <= n <= MAX_NUM_THREADS; default: the cores, or OMP_NUM_THREADS, at most MAX_NUM_THREADS). Where other programs keep cores busy, fewer threads, or GOMP_SPINCOUNT=1000 in the environment before Python starts, can be much faster (README, 'Busy cores'). A build without OpenMP (build_info()['openmp'] False) runs on one thread: n > 1 gives a RuntimeWarning and the count stays 1.
    """
def sgd_update(param: typing.Any, grad: typing.Any, buf: typing.Any, *, lr: typing.SupportsFloat | typing.SupportsIndex, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.0, nesterov: bool = False, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    One SGD step in place on param (and buf when momentum != 0); returns None.
    """
def sgd_update_many(params: typing.Any, grads: typing.Any, bufs: typing.Any, *, lr: typing.SupportsFloat | typing.SupportsIndex, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.0, nesterov: bool = False, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    sgd_update on each (params[i], grads[i], bufs[i]); all checked before any update.
    """
def sigmoid_backward(dout: typing.Any, y: typing.Any) -> numpy.ndarray:
    """
    dout * y * (1 - y), y the forward output
    """
def sigmoid_forward(x: typing.Any) -> numpy.ndarray:
    """
    1 / (1 + exp(-x))
    """
def softmax_cross_entropy(scores: typing.Any, labels: typing.Any) -> tuple:
    """
    (mean loss, dscores) of softmax cross-entropy; dscores already / N
    """
def tanh_backward(dout: typing.Any, y: typing.Any) -> numpy.ndarray:
    """
    dout * (1 - y**2), y the forward output
    """
def tanh_forward(x: typing.Any) -> numpy.ndarray:
    """
    tanh(x)
    """
MAX_NUM_THREADS: int = 1024
