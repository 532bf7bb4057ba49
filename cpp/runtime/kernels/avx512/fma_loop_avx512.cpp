// The FMA peak loop with 512-bit registers (this unit is built with -mavx512f ...).
#include <immintrin.h>

#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

double fma_loop(std::int64_t iters, float* sink) {
  __m512 acc[12];  // twelve independent chains, as in the AVX2 loop
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, scale, shift);
  __m512 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm512_add_ps(total, acc[i]);
  // One lane keeps the chains alive (all lanes are computed together). Not
  // _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized on its undefined vector);
  // not _mm512_cvtss_f32, which SIMDe (the emulated test build) lacks.
  float lanes[16];
  _mm512_storeu_ps(lanes, total);
  *sink = lanes[0];
  return static_cast<double>(iters) * 12 * 16 * 2;
}

}  // namespace fastbp::avx512
