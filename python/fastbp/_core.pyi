"""Type stubs for fastbp's C++ extension. Arrays are float32 or float64 ndarrays."""

from typing import Any, Dict, Optional, Tuple

import numpy as np

# --- runtime ---------------------------------------------------------------
def build_info() -> Dict[str, Any]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...

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
) -> np.ndarray: ...
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
    dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: IntPair = 1, padding: IntPair = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def max_pool2d_forward(
    x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None
) -> Tuple[np.ndarray, np.ndarray]: ...
def max_pool2d_backward(
    dout: np.ndarray, argmax: np.ndarray, x_shape: Sequence[int]
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
def l2_penalty_accumulate(grad: np.ndarray, w: np.ndarray, reg: float) -> float: ...
