// Optimizer updates and weight penalties, fused element-wise over one parameter.
// Legend: n elements; param, grad, w and every state buffer (momentum_buf, sum,
// square_avg, grad_avg, exp_avg, exp_avg_sq, max_exp_avg_sq) contiguous with n elements.
// Every update is element-wise, so results do not depend on the thread count.
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

// One AdaGrad step in place (torch.optim.Adagrad), step t >= 1:
//   clr = lr / (1 + (t - 1) * lr_decay)      (in double, rounded to T once)
//   g = grad + weight_decay * param;  sum += g * g;  param -= clr * g / (sqrt(sum) + eps)
template <class T>
void adagrad_update(T* param, const T* grad, T* sum, std::int64_t n, std::int64_t step, double lr,
                    double lr_decay, T eps, T weight_decay);

// One RMSprop step in place (torch.optim.RMSprop):
//   g = grad + weight_decay * param
//   square_avg = alpha * square_avg + (1 - alpha) * g * g
//   centered:  grad_avg = alpha * grad_avg + (1 - alpha) * g;
//              avg = sqrt(square_avg - grad_avg**2) + eps,   else avg = sqrt(square_avg) + eps
//   momentum != 0: buf = momentum * buf + g / avg;  param -= lr * buf
//   else:          param -= lr * g / avg
// grad_avg (centered) and momentum_buf (momentum != 0) may be null otherwise.
template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buf,
                    std::int64_t n, T lr, T alpha, T eps, T weight_decay, T momentum);

// One Adam / AdamW step in place (torch.optim.Adam / AdamW), step t >= 1:
//   decoupled (AdamW): param *= 1 - lr * weight_decay;  else g = grad + weight_decay * param
//   exp_avg = beta1 * exp_avg + (1 - beta1) * g
//   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
//   amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), used in place of exp_avg_sq
//   param -= (lr / (1 - beta1**t)) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2**t) + eps)
// The bias corrections are computed in double and rounded to T once.
// max_exp_avg_sq may be null unless amsgrad.
template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 std::int64_t n, std::int64_t step, double lr, double beta1, double beta2, T eps,
                 double weight_decay, bool decoupled);

// grad += reg * w; returns 0.5 * reg * sum(w**2), accumulated in double over
// fixed chunks summed in index order (the same for any thread count).
template <class T>
double l2_penalty_accumulate(T* grad, const T* w, std::int64_t n, T reg);

}  // namespace fastbp
