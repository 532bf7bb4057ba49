// A 6 x 4 float block stored transposed, for packing 6-row micro-kernel panels. SSE only,
// so both the baseline x86-64 units and the per-ISA units may include it.
#pragma once

#include <immintrin.h>

namespace fastbp::sse {

// Rows r0..r5 (4 floats each) of a 6 x 4 block into dst as its 4 columns, each 6
// consecutive floats: dst[6 l + r] = element l of row r.
inline void store_transposed_6x4(float* dst, __m128 r0, __m128 r1, __m128 r2, __m128 r3,
                                 __m128 r4, __m128 r5) {
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r<l> now holds column l of rows 0-3
  const __m128 lo = _mm_unpacklo_ps(r4, r5), hi = _mm_unpackhi_ps(r4, r5);  // rows 4-5
  _mm_storeu_ps(dst, r0);
  _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), lo);
  _mm_storeu_ps(dst + 6, r1);
  _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 10), lo);
  _mm_storeu_ps(dst + 12, r2);
  _mm_storel_pi(reinterpret_cast<__m64*>(dst + 16), hi);
  _mm_storeu_ps(dst + 18, r3);
  _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 22), hi);
}

}  // namespace fastbp::sse
