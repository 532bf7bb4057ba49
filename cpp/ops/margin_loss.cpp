#include "ops/margin_loss.hpp"

#include <vector>

#include "runtime/threads.hpp"

namespace fastbp {

template <class T>
double multi_margin_loss(T* dscores, const T* scores, const std::int64_t* labels, std::int64_t N,
                         std::int64_t C, int p, T margin, double scale) {
  std::vector<double> row_loss(static_cast<std::size_t>(N));
  const T g_scale = static_cast<T>(scale / static_cast<double>(C));  // d loss / d term
  const int nt = threads_for(static_cast<double>(N) * static_cast<double>(C), 1 << 15);
  parallel_for(nt, 0, N, [&](std::int64_t i) {
    const T* s = scores + i * C;  // (C,)
    T* d = dscores + i * C;       // (C,)
    const std::int64_t y = labels[i];
    const T s_y = s[y];
    double loss = 0;
    T d_y = 0;
    for (std::int64_t j = 0; j < C; ++j) {
      const T z = margin - s_y + s[j];  // the margin violation of class j
      if (j == y || !(z > T(0))) {
        d[j] = T(0);
        continue;
      }
      loss += p == 1 ? static_cast<double>(z) : static_cast<double>(z) * static_cast<double>(z);
      const T dz = p == 1 ? g_scale : T(2) * z * g_scale;  // d/dz of z or z^2, scaled
      d[j] = dz;
      d_y -= dz;
    }
    d[y] = d_y;
    row_loss[static_cast<std::size_t>(i)] = loss / static_cast<double>(C);
  });
  double total = 0;
  for (std::int64_t i = 0; i < N; ++i) total += row_loss[static_cast<std::size_t>(i)];
  return total * scale;
}

template double multi_margin_loss<float>(float*, const float*, const std::int64_t*, std::int64_t,
                                         std::int64_t, int, float, double);
template double multi_margin_loss<double>(double*, const double*, const std::int64_t*,
                                          std::int64_t, std::int64_t, int, double, double);

}  // namespace fastbp
