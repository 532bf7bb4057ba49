// The FMA peak loop of the generic context: SSE2 multiply and add on x86-64 (SSE2 has no
// fused form), plain floats elsewhere.
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

double fma_loop(std::int64_t iters, float* sink) {
#if defined(__SSE2__)
  __m128 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm_set1_ps(static_cast<float>(i));
  const __m128 scale = _mm_set1_ps(0.999999f), shift = _mm_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = _mm_add_ps(_mm_mul_ps(a, scale), shift);
  __m128 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm_add_ps(total, acc[i]);
  *sink = _mm_cvtss_f32(total);
  return static_cast<double>(iters) * 12 * 4 * 2;
#else
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = static_cast<float>(i);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = a * 0.999999f + 1e-7f;
  *sink = acc[0];
  return static_cast<double>(iters) * 12 * 2;
#endif
}

}  // namespace fastbp::generic
