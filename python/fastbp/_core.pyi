"""Type stubs for fastbp's C++ extension. Arrays are float32 or float64 ndarrays."""

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

# --- runtime ---------------------------------------------------------------
MAX_NUM_THREADS: int

def build_info() -> Dict[str, Any]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def fma_peak_gflops(threads: int, seconds: float = 0.3) -> float: ...
def cached_bytes() -> int: ...
def empty_cache() -> int: ...

# --- gemm ------------------------------------------------------------------
def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: Optional[np.ndarray] = None,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
) -> np.ndarray: ...

# --- dense ops -------------------------------------------------------------
def relu_forward(x: np.ndarray) -> np.ndarray: ...
def relu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> np.ndarray: ...
def leaky_relu_backward(dout: np.ndarray, x: np.ndarray, slope: float = 0.01) -> np.ndarray: ...
def sigmoid_forward(x: np.ndarray) -> np.ndarray: ...
def sigmoid_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray: ...
def tanh_forward(x: np.ndarray) -> np.ndarray: ...
def tanh_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray: ...
def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray: ...
def linear_backward(
    dout: np.ndarray, x: np.ndarray, w: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def linear_backward_accumulate(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    w_grad: np.ndarray,
    b_grad: Optional[np.ndarray] = None,
    *,
    input_grad: bool = True,
    accumulate: bool = True,
) -> Optional[np.ndarray]: ...
def linear_relu_forward(
    x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None
) -> np.ndarray: ...
def linear_relu_backward_accumulate(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    w_grad: np.ndarray,
    b_grad: Optional[np.ndarray] = None,
    *,
    input_grad: bool = True,
    accumulate: bool = True,
) -> Optional[np.ndarray]: ...
def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> Tuple[float, np.ndarray]: ...

# --- conv ------------------------------------------------------------------
from typing import Sequence, Union

IntPair = Union[int, Tuple[int, int]]

def im2col(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray: ...
def col2im(
    cols: np.ndarray,
    x_shape: Sequence[int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> np.ndarray: ...
def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> np.ndarray: ...
def conv2d_backward(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    *,
    input_grad: bool = True,
) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]: ...
def max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]: ...
def max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray: ...
def conv2d_relu_max_pool2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: Optional[np.ndarray],
    stride: IntPair,
    padding: IntPair,
    kernel_size: IntPair,
    pool_stride: Optional[IntPair] = None,
) -> Tuple[np.ndarray, np.ndarray]: ...
def conv2d_relu_max_pool2d_backward(
    dout: np.ndarray,
    argmax: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntPair,
    padding: IntPair,
    *,
    input_grad: bool = True,
) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]: ...
def relu_max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]: ...
def relu_max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, y: np.ndarray, x_shape: Sequence[int]
) -> np.ndarray: ...
def avg_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> np.ndarray: ...
def avg_pool2d_backward(
    dout: np.ndarray,
    x_shape: Sequence[int],
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
) -> np.ndarray: ...

# --- optim -----------------------------------------------------------------
def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    buf: Optional[np.ndarray],
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None: ...
def sgd_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    bufs: Optional[Sequence[np.ndarray]],
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None: ...
def l2_penalty_accumulate(grad: np.ndarray, w: np.ndarray, reg: float) -> float: ...
def adagrad_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    sums: Sequence[np.ndarray],
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
) -> None: ...
def rmsprop_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    square_avgs: Sequence[np.ndarray],
    grad_avgs: Optional[Sequence[np.ndarray]] = None,
    bufs: Optional[Sequence[np.ndarray]] = None,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> None: ...
def adam_update_many(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    max_exp_avg_sqs: Optional[Sequence[np.ndarray]] = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
) -> None: ...
def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    sum: np.ndarray,
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
) -> None: ...
def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: Optional[np.ndarray] = None,
    buf: Optional[np.ndarray] = None,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> None: ...
def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: Optional[np.ndarray] = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
) -> None: ...

# --- training layers ---------------------------------------------------------
def batchnorm_forward(
    x: np.ndarray,
    gamma: Optional[np.ndarray],
    beta: Optional[np.ndarray],
    running_mean: Optional[np.ndarray],
    running_var: Optional[np.ndarray],
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def batchnorm_backward(
    dout: np.ndarray,
    x: np.ndarray,
    mean: np.ndarray,
    invstd: np.ndarray,
    gamma: Optional[np.ndarray],
    gamma_grad: Optional[np.ndarray],
    beta_grad: Optional[np.ndarray],
    *,
    training: bool = True,
) -> np.ndarray: ...
def dropout_forward(x: np.ndarray, p: float, seed: int) -> Tuple[np.ndarray, np.ndarray]: ...
def dropout_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray: ...
def multi_margin_loss(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    p: int = 1,
    margin: float = 1.0,
    reduction: str = "mean",
) -> Tuple[float, np.ndarray]: ...
