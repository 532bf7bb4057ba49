#include "ops/optim_update.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/threads.hpp"

namespace fastbp {

namespace {

// Elements per thread below which a second thread costs more than it saves.
constexpr double kMinElemsPerThread = 1 << 16;
// Chunk of the penalty's sum of squares; fixed, so the sum's order never changes.
constexpr std::int64_t kChunk = 4096;

}  // namespace

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buf, std::int64_t n, T lr, T momentum,
                bool nesterov, T weight_decay) {
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  // Four specialised loops keep the branches out of the element loop.
  if (momentum == T(0)) {
    if (weight_decay == T(0)) {
      parallel_for(nt, 0, n, [=](std::int64_t i) { param[i] -= lr * grad[i]; });
    } else {
      parallel_for(nt, 0, n, [=](std::int64_t i) {
        param[i] -= lr * (grad[i] + weight_decay * param[i]);
      });
    }
    return;
  }
  T* buf = momentum_buf;
  const bool decay = weight_decay != T(0);  // skipped when 0, as PyTorch does (0 * inf is NaN)
  if (nesterov) {
    parallel_for(nt, 0, n, [=](std::int64_t i) {
      const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
      const T b = momentum * buf[i] + g;  // d buf
      buf[i] = b;
      param[i] -= lr * (g + momentum * b);
    });
  } else {
    parallel_for(nt, 0, n, [=](std::int64_t i) {
      const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
      const T b = momentum * buf[i] + g;
      buf[i] = b;
      param[i] -= lr * b;
    });
  }
}

template <class T>
void adagrad_update(T* param, const T* grad, T* sum, std::int64_t n, std::int64_t step, double lr,
                    double lr_decay, T eps, T weight_decay) {
  const T clr = static_cast<T>(lr / (1.0 + static_cast<double>(step - 1) * lr_decay));
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  const bool decay = weight_decay != T(0);
  parallel_for(nt, 0, n, [=](std::int64_t i) {
    const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
    const T s = sum[i] + g * g;
    sum[i] = s;
    param[i] -= clr * g / (std::sqrt(s) + eps);
  });
}

template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buf,
                    std::int64_t n, T lr, T alpha, T eps, T weight_decay, T momentum) {
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  const bool decay = weight_decay != T(0);
  const bool centered = grad_avg != nullptr;
  const bool use_momentum = momentum != T(0);
  const T one_minus_alpha = T(1) - alpha;
  parallel_for(nt, 0, n, [=](std::int64_t i) {
    const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
    const T sq = alpha * square_avg[i] + one_minus_alpha * g * g;
    square_avg[i] = sq;
    T avg;
    if (centered) {
      const T ga = alpha * grad_avg[i] + one_minus_alpha * g;
      grad_avg[i] = ga;
      avg = std::sqrt(sq - ga * ga) + eps;
    } else {
      avg = std::sqrt(sq) + eps;
    }
    if (use_momentum) {
      const T b = momentum * momentum_buf[i] + g / avg;
      momentum_buf[i] = b;
      param[i] -= lr * b;
    } else {
      param[i] -= lr * g / avg;
    }
  });
}

template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 std::int64_t n, std::int64_t step, double lr, double beta1, double beta2, T eps,
                 double weight_decay, bool decoupled) {
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  const double t = static_cast<double>(step);
  const T step_size = static_cast<T>(lr / (1.0 - std::pow(beta1, t)));
  const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2, t)));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T one_minus_b1 = static_cast<T>(1.0 - beta1), one_minus_b2 = static_cast<T>(1.0 - beta2);
  const bool coupled_decay = !decoupled && weight_decay != 0.0;
  const bool shrink = decoupled && weight_decay != 0.0;
  const T wd = static_cast<T>(weight_decay);
  const T keep = static_cast<T>(1.0 - lr * weight_decay);  // AdamW's decay factor
  const bool amsgrad = max_exp_avg_sq != nullptr;
  parallel_for(nt, 0, n, [=](std::int64_t i) {
    T p = param[i];
    if (shrink) p *= keep;
    const T g = coupled_decay ? grad[i] + wd * p : grad[i];
    const T m = b1 * exp_avg[i] + one_minus_b1 * g;
    const T v = b2 * exp_avg_sq[i] + one_minus_b2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T v_hat = v;
    if (amsgrad) {
      v_hat = std::max(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = v_hat;
    }
    param[i] = p - step_size * m / (std::sqrt(v_hat) / bc2_sqrt + eps);
  });
}

template <class T>
double l2_penalty_accumulate(T* grad, const T* w, std::int64_t n, T reg) {
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks));
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  parallel_for(nt, 0, chunks, [&](std::int64_t c) {
    const std::int64_t end = std::min(n, (c + 1) * kChunk);
    double sum = 0;
    for (std::int64_t i = c * kChunk; i < end; ++i) {
      const double v = static_cast<double>(w[i]);
      sum += v * v;          // d/dw 0.5 * reg * w**2 = reg * w:
      grad[i] += reg * w[i];  // accumulated right here
    }
    partial[static_cast<std::size_t>(c)] = sum;
  });
  double total = 0;
  for (double s : partial) total += s;
  return 0.5 * static_cast<double>(reg) * total;
}

#define FASTBP_INSTANTIATE(T)                                                        \
  template void sgd_update<T>(T*, const T*, T*, std::int64_t, T, T, bool, T);        \
  template double l2_penalty_accumulate<T>(T*, const T*, std::int64_t, T);                  \
  template void adagrad_update<T>(T*, const T*, T*, std::int64_t, std::int64_t, double,    \
                                  double, T, T);        \
  template void rmsprop_update<T>(T*, const T*, T*, T*, T*, std::int64_t, T, T, T, T, T);  \
  template void adam_update<T>(T*, const T*, T*, T*, T*, std::int64_t, std::int64_t, double, \
                               double, double, T, double, bool);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
