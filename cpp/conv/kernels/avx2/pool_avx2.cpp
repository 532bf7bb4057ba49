// AVX2 2x2 stride-2 max pooling (this unit is built with -mavx2 -mfma): eight outputs per
// step, branch-free. Contract in conv/kernels/pool_kernels.hpp.
#include <immintrin.h>

#include "conv/kernels/pool_kernels.hpp"

namespace fastbp::pool_kernels {

namespace {

// Keeps (best, off) or takes (v, v_off): v wins when v > best, or when v is NaN and best
// is not (so the first maximum, or the first NaN, stays).
inline void take_if_better(__m256& best, __m256i& off, __m256 v, __m256i v_off) {
  const __m256 greater = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
  const __m256 nan_over_number =
      _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
  const __m256 take = _mm256_or_ps(greater, nan_over_number);
  best = _mm256_blendv_ps(best, v, take);
  off = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(off), _mm256_castsi256_ps(v_off), take));
}

// Outputs ow .. ow+7 of the row.
inline void eight_windows(float* y, std::int64_t* argmax, const float* x0, const float* x1,
                          std::int64_t ow, std::int64_t base, std::int64_t W) {
  const __m256i off_b = _mm256_set1_epi32(1);
  const __m256i off_c = _mm256_set1_epi32(static_cast<int>(W));
  const __m256i off_d = _mm256_set1_epi32(static_cast<int>(W + 1));
  const __m256i steps_lo = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256i steps_hi = _mm256_setr_epi64x(8, 10, 12, 14);
  // 16 floats per row hold the eight windows' columns interleaved (left, right, ...).
  // The shuffles split them; the order inside is 0 1 4 5 2 3 6 7 until the final permute.
  const __m256 t0 = _mm256_loadu_ps(x0 + 2 * ow), t1 = _mm256_loadu_ps(x0 + 2 * ow + 8);
  const __m256 u0 = _mm256_loadu_ps(x1 + 2 * ow), u1 = _mm256_loadu_ps(x1 + 2 * ow + 8);
  const __m256 a = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 b = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
  const __m256 c = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 d = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
  __m256 best = a;
  __m256i off = _mm256_setzero_si256();
  take_if_better(best, off, b, off_b);
  take_if_better(best, off, c, off_c);
  take_if_better(best, off, d, off_d);
  // Pairs of lanes are 64-bit units: (0 1)(4 5)(2 3)(6 7) -> (0 1)(2 3)(4 5)(6 7).
  best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), _MM_SHUFFLE(3, 1, 2, 0)));
  off = _mm256_permute4x64_epi64(off, _MM_SHUFFLE(3, 1, 2, 0));
  _mm256_storeu_ps(y + ow, best);
  const __m256i first = _mm256_set1_epi64x(base + 2 * ow);
  const __m256i idx_lo = _mm256_add_epi64(_mm256_add_epi64(first, steps_lo),
                                          _mm256_cvtepi32_epi64(_mm256_castsi256_si128(off)));
  const __m256i idx_hi = _mm256_add_epi64(
      _mm256_add_epi64(first, steps_hi), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(off, 1)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + ow), idx_lo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + ow + 4), idx_hi);
}

}  // namespace

std::int64_t max_pool_2x2s2_row_f32_avx2(float* y, std::int64_t* argmax, const float* x0,
                                         const float* x1, std::int64_t count,
                                         std::int64_t base, std::int64_t W) {
  if (count < 8) return 0;
  std::int64_t ow = 0;
  for (; ow + 8 <= count; ow += 8) eight_windows(y, argmax, x0, x1, ow, base, W);
  // The last partial group overlaps the previous one: same values, written twice.
  if (ow < count) eight_windows(y, argmax, x0, x1, count - 8, base, W);
  return count;
}

}  // namespace fastbp::pool_kernels
