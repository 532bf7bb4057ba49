"""Low-level ops on the C++ core. Each has a NumPy twin of the same name and
signature in ``fastbp.reference``.

Arrays in are NumPy float32 or float64 arrays (any layout; strided input is
copied once); operands of one call must share a dtype (no silent casts). Arrays
out are fresh, 64-byte aligned, owned by the core and viewed by NumPy without a
copy.
"""

from fastbp.ops.conv import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    col2im,
    conv2d_backward,
    conv2d_forward,
    conv2d_relu_max_pool2d_backward,
    conv2d_relu_max_pool2d_forward,
    im2col,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_max_pool2d_backward,
    relu_max_pool2d_forward,
)
from fastbp.ops.dense import (
    gemm,
    leaky_relu_backward,
    leaky_relu_forward,
    linear_backward,
    linear_backward_accumulate,
    linear_forward,
    linear_relu_backward_accumulate,
    linear_relu_forward,
    matmul,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_cross_entropy,
    tanh_backward,
    tanh_forward,
)
from fastbp.ops.optim import (
    adagrad_update,
    adagrad_update_many,
    adam_update,
    adam_update_many,
    l2_penalty_accumulate,
    rmsprop_update,
    rmsprop_update_many,
    sgd_update,
    sgd_update_many,
)
from fastbp.ops.train import (
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    multi_margin_loss,
)

__all__ = [
    "adagrad_update",
    "adagrad_update_many",
    "adam_update",
    "adam_update_many",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "conv2d_relu_max_pool2d_backward",
    "conv2d_relu_max_pool2d_forward",
    "dropout_backward",
    "dropout_forward",
    "gemm",
    "im2col",
    "l2_penalty_accumulate",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_backward_accumulate",
    "linear_forward",
    "linear_relu_backward_accumulate",
    "linear_relu_forward",
    "matmul",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "relu_max_pool2d_backward",
    "relu_max_pool2d_forward",
    "multi_margin_loss",
    "relu_backward",
    "relu_forward",
    "rmsprop_update",
    "rmsprop_update_many",
    "sgd_update",
    "sgd_update_many",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_cross_entropy",
    "tanh_backward",
    "tanh_forward",
]
