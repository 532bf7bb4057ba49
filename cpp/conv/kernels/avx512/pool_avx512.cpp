// AVX-512 2x2 stride-2 max pooling (this unit is built with -mavx512f -mavx512bw
// -mavx512vl -mavx512dq): sixteen outputs per step, branch-free, the choices made in mask
// registers. Contract in conv/kernels/pool_kernels.hpp.
#include <immintrin.h>

#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::pool_kernels {

namespace {

constexpr int kLanes = 16;  // outputs per step

// Keeps (best, off) or takes (v, v_off): v wins when v > best, or when v is NaN and best
// is not (so the first maximum, or the first NaN, stays). The offsets are 64-bit lanes,
// windows 0..7 in off[0] and 8..15 in off[1].
inline void take_if_better(__m512& best, __m512i (&off)[2], __m512 v, std::int64_t v_off) {
  const __mmask16 greater = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
  const __mmask16 nan_over_number =
      _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
  const __mmask16 take = greater | nan_over_number;
  best = _mm512_mask_blend_ps(take, best, v);
  const __m512i o = _mm512_set1_epi64(v_off);
  off[0] = _mm512_mask_blend_epi64(static_cast<__mmask8>(take), off[0], o);
  off[1] = _mm512_mask_blend_epi64(static_cast<__mmask8>(take >> 8), off[1], o);
}

// The maximum of relu(window) from the maximum and the window's first entry, per lane.
inline __m512 relu_of_max(__m512 best, __m512 first) {
  const __m512 zero = _mm512_setzero_ps();
  const __mmask16 keep =
      _mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ) | _mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q);
  // relu(first): +0 where first < 0, first itself elsewhere (a zero keeps its sign).
  const __m512 first_relu =
      _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(first, zero, _CMP_NLT_UQ), first);
  return _mm512_mask_blend_ps(keep, first_relu, best);
}

// Outputs ow .. ow+15 of the row.
inline void sixteen_windows(float* y, std::int64_t* argmax, const float* x0, const float* x1,
                            std::int64_t ow, std::int64_t base, std::int64_t W, bool relu) {
  // 32 floats per row hold the sixteen windows' columns interleaved (left, right, ...).
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 t0 = _mm512_loadu_ps(x0 + 2 * ow), t1 = _mm512_loadu_ps(x0 + 2 * ow + kLanes);
  const __m512 u0 = _mm512_loadu_ps(x1 + 2 * ow), u1 = _mm512_loadu_ps(x1 + 2 * ow + kLanes);
  const __m512 a = _mm512_permutex2var_ps(t0, even, t1);
  const __m512 b = _mm512_permutex2var_ps(t0, odd, t1);
  const __m512 c = _mm512_permutex2var_ps(u0, even, u1);
  const __m512 d = _mm512_permutex2var_ps(u0, odd, u1);
  __m512 best = a;
  __m512i off[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  take_if_better(best, off, b, 1);
  take_if_better(best, off, c, W);
  take_if_better(best, off, d, W + 1);
  if (relu) best = relu_of_max(best, a);
  _mm512_storeu_ps(y + ow, best);
  // argmax = base + 2 ow + 2 lane + off.
  const __m512i corner_lo = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * ow),
                                             _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14));
  const __m512i corner_hi = _mm512_add_epi64(corner_lo, _mm512_set1_epi64(16));
  _mm512_storeu_si512(argmax + ow, _mm512_add_epi64(corner_lo, off[0]));
  _mm512_storeu_si512(argmax + ow + kLanes / 2, _mm512_add_epi64(corner_hi, off[1]));
}

std::int64_t max_pool_2x2s2_row_f32(float* y, std::int64_t* argmax, const float* x0,
                                    const float* x1, std::int64_t count, std::int64_t base,
                                    std::int64_t W, bool relu) {
  if (count < kLanes) return 0;
  std::int64_t ow = 0;
  for (; ow + kLanes <= count; ow += kLanes) sixteen_windows(y, argmax, x0, x1, ow, base, W, relu);
  // The last partial group overlaps the previous one: same values, written twice.
  if (ow < count) sixteen_windows(y, argmax, x0, x1, count - kLanes, base, W, relu);
  return count;
}

// Windows ow .. ow+15 of max_unpool_2x2s2_row_f32; false when an offset is not
// 0, 1, W or W+1 (nothing is written then).
inline bool sixteen_blocks(float* dx0, float* dx1, const float* dout, const float* gate,
                           const std::int64_t* argmax, std::int64_t ow, std::int64_t base,
                           std::int64_t W) {
  // Offsets from each window's corner, as 64-bit lanes in two halves of eight windows.
  const __m512i corner_lo = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * ow),
                                             _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14));
  const __m512i corner_hi = _mm512_add_epi64(corner_lo, _mm512_set1_epi64(16));
  const __m512i off_lo = _mm512_sub_epi64(_mm512_loadu_si512(argmax + ow), corner_lo);
  const __m512i off_hi = _mm512_sub_epi64(_mm512_loadu_si512(argmax + ow + kLanes / 2), corner_hi);
  // Window i's bit (i < 16) of the mask of windows whose offset is `at`.
  const auto windows_at = [&](std::int64_t at) {
    const __m512i v = _mm512_set1_epi64(at);
    return static_cast<__mmask16>(_mm512_cmpeq_epi64_mask(off_lo, v) |
                                  (_mm512_cmpeq_epi64_mask(off_hi, v) << 8));
  };
  const __mmask16 at_a = windows_at(0), at_b = windows_at(1), at_c = windows_at(W),
                  at_d = windows_at(W + 1);
  if (static_cast<__mmask16>(at_a | at_b | at_c | at_d) != 0xffff) return false;
  const __m512 zero = _mm512_setzero_ps();
  __m512 v = _mm512_add_ps(zero, _mm512_loadu_ps(dout + ow));  // 0 + d, as the scatter adds
  if (gate != nullptr)
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(gate + ow), zero, _CMP_GT_OQ), v);
  const __m512 a = _mm512_maskz_mov_ps(at_a, v), b = _mm512_maskz_mov_ps(at_b, v);
  const __m512 c = _mm512_maskz_mov_ps(at_c, v), d = _mm512_maskz_mov_ps(at_d, v);
  // Interleave (a0 b0 a1 b1 ...): the first 32 floats of each row of the 2x2 blocks.
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  _mm512_storeu_ps(dx0 + 2 * ow, _mm512_permutex2var_ps(a, lo, b));
  _mm512_storeu_ps(dx0 + 2 * ow + kLanes, _mm512_permutex2var_ps(a, hi, b));
  _mm512_storeu_ps(dx1 + 2 * ow, _mm512_permutex2var_ps(c, lo, d));
  _mm512_storeu_ps(dx1 + 2 * ow + kLanes, _mm512_permutex2var_ps(c, hi, d));
  return true;
}

std::int64_t max_unpool_2x2s2_row_f32(float* dx0, float* dx1, const float* dout,
                                      const float* gate, const std::int64_t* argmax,
                                      std::int64_t count, std::int64_t base, std::int64_t W) {
  if (count < kLanes) return 0;
  std::int64_t ow = 0;
  for (; ow + kLanes <= count; ow += kLanes)
    if (!sixteen_blocks(dx0, dx1, dout, gate, argmax, ow, base, W)) return -1;
  // The last partial group overlaps the previous one: same values, written twice.
  if (ow < count && !sixteen_blocks(dx0, dx1, dout, gate, argmax, count - kLanes, base, W))
    return -1;
  return count;
}

}  // namespace

}  // namespace fastbp::pool_kernels

namespace fastbp::avx512 {

const pool_kernels::PoolKernels& pool_part() {
  static const pool_kernels::PoolKernels kernels{&pool_kernels::max_pool_2x2s2_row_f32,
                                                 &pool_kernels::max_unpool_2x2s2_row_f32};
  return kernels;
}

}  // namespace fastbp::avx512
