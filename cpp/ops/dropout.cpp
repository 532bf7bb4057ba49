#include "ops/dropout.hpp"

#include <cmath>

#include "runtime/threads.hpp"

namespace fastbp {

namespace {

constexpr double kMinElemsPerThread = 1 << 16;

// splitmix64's output for state `z` (Steele, Lea, Flood 2014): a counter-based
// generator, so element i's number needs no sequential state.
inline std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

template <class T>
void dropout_forward(T* out, T* mask, const T* x, std::int64_t n, double p, std::uint64_t seed) {
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  const std::uint64_t base = splitmix64(seed);  // decorrelates nearby seeds
  // u = k * 2^-53 with k = bits >> 11 is uniform in [0, 1); u >= p exactly when
  // k >= ceil(p * 2^53) (scaling by 2^53 is exact), an integer compare.
  const std::uint64_t threshold = static_cast<std::uint64_t>(std::ceil(p * 0x1.0p53));
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  parallel_for(nt, 0, n, [=](std::int64_t i) {
    const std::uint64_t bits = splitmix64(base + static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ULL);
    const T m = (bits >> 11) >= threshold ? scale : T(0);
    mask[i] = m;
    out[i] = x[i] * m;
  });
}

template <class T>
void dropout_backward(T* dx, const T* dout, const T* mask, std::int64_t n) {
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  parallel_for(nt, 0, n, [=](std::int64_t i) { dx[i] = dout[i] * mask[i]; });
}

#define FASTBP_INSTANTIATE(T)                                                              \
  template void dropout_forward<T>(T*, T*, const T*, std::int64_t, double, std::uint64_t); \
  template void dropout_backward<T>(T*, const T*, const T*, std::int64_t);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
