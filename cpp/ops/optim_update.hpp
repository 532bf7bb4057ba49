// Optimizer updates and weight penalties, fused element-wise over one parameter.
// Legend: n elements; param, grad, momentum_buf, w all contiguous with n elements.
#pragma once

#include <cstdint>

namespace fastbp {

// One SGD step in place, PyTorch's formulas (dampening 0):
//   g = grad + weight_decay * param
//   momentum != 0: buf = momentum * buf + g;  g = nesterov ? g + momentum * buf : buf
//   param -= lr * g
// momentum_buf is read and written only when momentum != 0 (then it must not be null).
template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buf, std::int64_t n, T lr, T momentum,
                bool nesterov, T weight_decay);

// grad += reg * w; returns 0.5 * reg * sum(w**2), accumulated in double over
// fixed chunks summed in index order (the same for any thread count).
template <class T>
double l2_penalty_accumulate(T* grad, const T* w, std::int64_t n, T reg);

}  // namespace fastbp
