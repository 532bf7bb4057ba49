#include "ops/optim_update.hpp"

#include <algorithm>
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
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) param[i] -= lr * grad[i];
    } else {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) param[i] -= lr * (grad[i] + weight_decay * param[i]);
    }
    return;
  }
  T* buf = momentum_buf;
  const bool decay = weight_decay != T(0);  // skipped when 0, as PyTorch does (0 * inf is NaN)
  if (nesterov) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
      const T b = momentum * buf[i] + g;  // d buf
      buf[i] = b;
      param[i] -= lr * (g + momentum * b);
    }
  } else {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const T g = decay ? grad[i] + weight_decay * param[i] : grad[i];
      const T b = momentum * buf[i] + g;
      buf[i] = b;
      param[i] -= lr * b;
    }
  }
}

template <class T>
double l2_penalty_accumulate(T* grad, const T* w, std::int64_t n, T reg) {
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks));
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t end = std::min(n, (c + 1) * kChunk);
    double sum = 0;
    for (std::int64_t i = c * kChunk; i < end; ++i) {
      const double v = static_cast<double>(w[i]);
      sum += v * v;          // d/dw 0.5 * reg * w**2 = reg * w:
      grad[i] += reg * w[i];  // accumulated right here
    }
    partial[static_cast<std::size_t>(c)] = sum;
  }
  double total = 0;
  for (double s : partial) total += s;
  return 0.5 * static_cast<double>(reg) * total;
}

#define FASTBP_INSTANTIATE(T)                                                        \
  template void sgd_update<T>(T*, const T*, T*, std::int64_t, T, T, bool, T);        \
  template double l2_penalty_accumulate<T>(T*, const T*, std::int64_t, T);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
