// AVX2 2x2 stride-2 max pooling (this unit is built with -mavx2 -mfma): eight outputs per
// step, branch-free. Contract in conv/kernels/pool_kernels.hpp.
#include <immintrin.h>

#include "runtime/kernels/avx2/parts_avx2.hpp"

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

// Pairs of lanes are 64-bit units: (0 1)(4 5)(2 3)(6 7) -> (0 1)(2 3)(4 5)(6 7).
inline __m256 lanes_in_order(__m256 v) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

// The maximum of relu(window) from the maximum and the window's first entry, per lane.
inline __m256 relu_of_max(__m256 best, __m256 first) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 keep =
      _mm256_or_ps(_mm256_cmp_ps(best, zero, _CMP_GT_OQ), _mm256_cmp_ps(best, best, _CMP_UNORD_Q));
  const __m256 first_relu = _mm256_andnot_ps(_mm256_cmp_ps(first, zero, _CMP_LT_OQ), first);
  return _mm256_blendv_ps(first_relu, best, keep);
}

// Outputs ow .. ow+7 of the row.
inline void eight_windows(float* y, std::int64_t* argmax, const float* x0, const float* x1,
                          std::int64_t ow, std::int64_t base, std::int64_t W, bool relu) {
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
  if (relu) best = relu_of_max(best, a);
  best = lanes_in_order(best);
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

std::int64_t max_pool_2x2s2_row_f32(float* y, std::int64_t* argmax, const float* x0,
                                         const float* x1, std::int64_t count,
                                         std::int64_t base, std::int64_t W, bool relu) {
  if (count < 8) return 0;
  std::int64_t ow = 0;
  for (; ow + 8 <= count; ow += 8) eight_windows(y, argmax, x0, x1, ow, base, W, relu);
  // The last partial group overlaps the previous one: same values, written twice.
  if (ow < count) eight_windows(y, argmax, x0, x1, count - 8, base, W, relu);
  return count;
}

// Windows ow .. ow+7 of max_unpool_2x2s2_row_f32; false when an offset is not
// 0, 1, W or W+1 (nothing is written then).
inline bool eight_blocks(float* dx0, float* dx1, const float* dout, const float* gate,
                         const std::int64_t* argmax, std::int64_t ow, std::int64_t base,
                         std::int64_t W) {
  // Offsets from each window's corner, as 32-bit lanes in window order.
  const __m256i corner_lo = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * ow),
                                             _mm256_setr_epi64x(0, 2, 4, 6));
  const __m256i corner_hi = _mm256_add_epi64(corner_lo, _mm256_set1_epi64x(8));
  const __m256i off_lo = _mm256_sub_epi64(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(argmax + ow)), corner_lo);
  const __m256i off_hi = _mm256_sub_epi64(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(argmax + ow + 4)), corner_hi);
  // Offsets fit 32 bits only when their high halves extend the low ones; anything else
  // cannot match the four small offsets, so the low halves decide (after this check).
  const __m256i low_halves = _mm256_permutevar8x32_epi32(
      _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(off_lo),
                                            _mm256_castsi256_ps(off_hi), _MM_SHUFFLE(2, 0, 2, 0))),
      _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
  const __m256i high_halves = _mm256_permutevar8x32_epi32(
      _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(off_lo),
                                            _mm256_castsi256_ps(off_hi), _MM_SHUFFLE(3, 1, 3, 1))),
      _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
  const __m256i at_a = _mm256_cmpeq_epi32(low_halves, _mm256_setzero_si256());
  const __m256i at_b = _mm256_cmpeq_epi32(low_halves, _mm256_set1_epi32(1));
  const __m256i at_c = _mm256_cmpeq_epi32(low_halves, _mm256_set1_epi32(static_cast<int>(W)));
  const __m256i at_d =
      _mm256_cmpeq_epi32(low_halves, _mm256_set1_epi32(static_cast<int>(W + 1)));
  const __m256i any = _mm256_or_si256(_mm256_or_si256(at_a, at_b), _mm256_or_si256(at_c, at_d));
  const __m256i small = _mm256_cmpeq_epi32(high_halves, _mm256_setzero_si256());
  if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(any, small))) != 0xff)
    return false;
  const __m256 zero = _mm256_setzero_ps();
  __m256 v = _mm256_add_ps(zero, _mm256_loadu_ps(dout + ow));  // 0 + d, as the scatter adds
  if (gate != nullptr)
    v = _mm256_and_ps(v, _mm256_cmp_ps(_mm256_loadu_ps(gate + ow), zero, _CMP_GT_OQ));
  const __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(at_a));
  const __m256 b = _mm256_and_ps(v, _mm256_castsi256_ps(at_b));
  const __m256 c = _mm256_and_ps(v, _mm256_castsi256_ps(at_c));
  const __m256 d = _mm256_and_ps(v, _mm256_castsi256_ps(at_d));
  // Interleave (a0 b0 a1 b1 ...): unpack works within 128-bit halves, the permutes restore
  // the order of the 16 floats of each row.
  const __m256 top_lo = _mm256_unpacklo_ps(a, b), top_hi = _mm256_unpackhi_ps(a, b);
  const __m256 bot_lo = _mm256_unpacklo_ps(c, d), bot_hi = _mm256_unpackhi_ps(c, d);
  _mm256_storeu_ps(dx0 + 2 * ow, _mm256_permute2f128_ps(top_lo, top_hi, 0x20));
  _mm256_storeu_ps(dx0 + 2 * ow + 8, _mm256_permute2f128_ps(top_lo, top_hi, 0x31));
  _mm256_storeu_ps(dx1 + 2 * ow, _mm256_permute2f128_ps(bot_lo, bot_hi, 0x20));
  _mm256_storeu_ps(dx1 + 2 * ow + 8, _mm256_permute2f128_ps(bot_lo, bot_hi, 0x31));
  return true;
}

std::int64_t max_unpool_2x2s2_row_f32(float* dx0, float* dx1, const float* dout,
                                           const float* gate, const std::int64_t* argmax,
                                           std::int64_t count, std::int64_t base,
                                           std::int64_t W) {
  if (count < 8) return 0;
  std::int64_t ow = 0;
  for (; ow + 8 <= count; ow += 8)
    if (!eight_blocks(dx0, dx1, dout, gate, argmax, ow, base, W)) return -1;
  // The last partial group overlaps the previous one: same values, written twice.
  if (ow < count && !eight_blocks(dx0, dx1, dout, gate, argmax, count - 8, base, W)) return -1;
  return count;
}

}  // namespace

}  // namespace fastbp::pool_kernels

namespace fastbp::avx2 {

const pool_kernels::PoolKernels& pool_part() {
  static const pool_kernels::PoolKernels kernels{&pool_kernels::max_pool_2x2s2_row_f32,
                                                 &pool_kernels::max_unpool_2x2s2_row_f32};
  return kernels;
}

}  // namespace fastbp::avx2
