// The FMA peak loop with 256-bit registers (this unit is built with -mavx2 -mfma).
#include <immintrin.h>

#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

double fma_loop(std::int64_t iters, float* sink) {
  // Twelve chains hide the FMA latency on two FMA pipes (4 cycles x 2 pipes = 8 needed).
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = _mm256_fmadd_ps(a, scale, shift);
  __m256 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm256_add_ps(total, acc[i]);
  *sink = _mm256_cvtss_f32(total);
  return static_cast<double>(iters) * 12 * 8 * 2;
}

}  // namespace fastbp::avx2
