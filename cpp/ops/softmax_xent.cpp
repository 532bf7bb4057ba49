#include "ops/softmax_xent.hpp"

#include <cmath>
#include <vector>

#include "ops/vexp.hpp"
#include "runtime/threads.hpp"

namespace fastbp {

template <class T>
T softmax_cross_entropy(T* dscores, const T* scores, const std::int64_t* labels, std::int64_t N,
                        std::int64_t C) {
  std::vector<double> row_loss(static_cast<std::size_t>(N));
  const T inv_n = T(1) / static_cast<T>(N);
  const int nt = threads_for(static_cast<double>(N) * static_cast<double>(C), 1 << 15);
  parallel_for(nt, 0, N, [&](std::int64_t i) {
    const T* s = scores + i * C;  // (C,)
    T* d = dscores + i * C;       // (C,)
    T max = s[0];
    for (std::int64_t j = 1; j < C; ++j) max = s[j] > max ? s[j] : max;
    const T label_logit = s[labels[i]] - max;  // read before d overwrites s
    T sum = 0;
    for (std::int64_t j = 0; j < C; ++j) {
      d[j] = detail::vexp(s[j] - max);
      sum += d[j];
    }
    // loss_i = log(sum_j exp(s_j - max)) - (s_y - max)
    row_loss[i] = static_cast<double>(std::log(sum) - label_logit);
    const T scale = inv_n / sum;
    for (std::int64_t j = 0; j < C; ++j) d[j] *= scale;
    d[labels[i]] -= inv_n;
  });
  double total = 0;
  for (std::int64_t i = 0; i < N; ++i) total += row_loss[i];
  return static_cast<T>(total / static_cast<double>(N));
}

template float softmax_cross_entropy<float>(float*, const float*, const std::int64_t*,
                                            std::int64_t, std::int64_t);
template double softmax_cross_entropy<double>(double*, const double*, const std::int64_t*,
                                              std::int64_t, std::int64_t);

}  // namespace fastbp
