// AVX2 direct convolution for stride-1 rows (this unit is built with -mavx2 -mfma).
// Contracts in conv/kernels/conv_kernels.hpp.
//
// Forward tile: MR filters x NV vectors of 8 output pixels of one row, MR * NV accumulators;
// per tap, NV unaligned loads of the image row (shifted by kw) and MR broadcast weights.
// Weight-gradient tile: MR filters x KB taps, MR * KB accumulators; per 8 pixels, MR loads
// of dout and KB shifted loads of the image. Both keep 12 accumulators at most, so the
// operands fit the 16 vector registers with them.
#define FASTBP_ISA_TAG avx2
#include <immintrin.h>

#include <algorithm>

#include "conv/kernels/direct_plane.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"
#include "runtime/kernels/avx2/lanes.hpp"

namespace fastbp::conv_kernels {

namespace {

constexpr int kMaxFilters = 4;  // MR of the weight-gradient tile
constexpr int kMaxTaps = 3;     // KB

using ::fastbp::avx2::first_lanes;

// y[r, ow0 + 8v + lane] for r < MR, v < NV, from x (the padded sample at row oh * SH,
// column ow0) and off (each tap's offset); `last` lanes of the last vector are stored (1..8).
template <int MR, int NV>
void forward_tile(float* y, const float* x, const std::int64_t* off, const float* w,
                  const float* b, const Plane& s, int last) {
  __m256 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < s.CKK; ++k) {
    const float* x_k = x + off[k];
    // Hold the smaller operand set in registers beside the accumulators (16 in all).
    if constexpr (NV > MR) {
      __m256 wv[MR];
      for (int r = 0; r < MR; ++r) wv[r] = _mm256_broadcast_ss(w + r * s.CKK + k);
      for (int v = 0; v < NV; ++v) {
        const __m256 xv = _mm256_loadu_ps(x_k + 8 * v);
        for (int r = 0; r < MR; ++r) acc[r][v] = _mm256_fmadd_ps(wv[r], xv, acc[r][v]);
      }
    } else {
      __m256 xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = _mm256_loadu_ps(x_k + 8 * v);
      for (int r = 0; r < MR; ++r) {
        const __m256 wv = _mm256_broadcast_ss(w + r * s.CKK + k);
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(wv, xv[v], acc[r][v]);
      }
    }
  }
  const __m256i tail = first_lanes(last);
  for (int r = 0; r < MR; ++r) {
    float* y_r = y + r * s.P;
    for (int v = 0; v < NV; ++v) {
      const __m256 out = b == nullptr ? acc[r][v] : _mm256_add_ps(acc[r][v], _mm256_set1_ps(b[r]));
      if (v == NV - 1 && last < 8) {
        _mm256_maskstore_ps(y_r + 8 * v, tail, out);
      } else {
        _mm256_storeu_ps(y_r + 8 * v, out);
      }
    }
  }
}

// Filters per forward tile of NV vectors: 12 accumulators (NV + MR loads per MR * NV
// multiply-adds), and 8 for one vector, where 12 would load more than it multiplies.
constexpr int max_filters(int nv) { return nv == 1 ? 8 : 12 / nv; }

// forward_tile<mr, NV>, for mr in [1, MR].
template <int NV, int MR = max_filters(NV)>
void forward_tile_mr(int mr, float* y, const float* x, const std::int64_t* off, const float* w,
                     const float* b, const Plane& s, int last) {
  if constexpr (MR > 1) {
    if (mr < MR) return forward_tile_mr<NV, MR - 1>(mr, y, x, off, w, b, s, last);
  }
  forward_tile<MR, NV>(y, x, off, w, b, s, last);
}

// dw[r, t] for r < MR, t < KB, from one sample (see the header's order); offsets[t] is
// tap t's tap_offset. NV > 0: rows of exactly NV vectors (OW == 8 * NV), whose loop the
// compiler unrolls (the same operations in the same order as NV == 0, any OW).
template <int MR, int KB, int NV>
void dw_tile(float* dw, const float* dout, const float* xp, const std::int64_t* offsets,
             const Plane& s, bool accumulate) {
  std::int64_t off[KB];  // in registers
  for (int t = 0; t < KB; ++t) off[t] = offsets[t];
  __m256 acc[MR][KB];
  for (int r = 0; r < MR; ++r)
    for (int t = 0; t < KB; ++t) acc[r][t] = _mm256_setzero_ps();
  const std::int64_t full = NV > 0 ? 8 * NV : s.OW / 8 * 8;
  const __m256i tail = first_lanes(s.OW - full);
  for (std::int64_t oh = 0; oh < s.OH; ++oh) {
    const float* d_row = dout + oh * s.OW;
    const float* x_row = xp + oh * s.SH * s.WP;
#pragma GCC unroll 4
    for (std::int64_t ow = 0; ow < full; ow += 8) {
      __m256 dv[MR];
      for (int r = 0; r < MR; ++r) dv[r] = _mm256_loadu_ps(d_row + r * s.P + ow);
      for (int t = 0; t < KB; ++t) {
        const __m256 xv = _mm256_loadu_ps(x_row + off[t] + ow);
        for (int r = 0; r < MR; ++r) acc[r][t] = _mm256_fmadd_ps(dv[r], xv, acc[r][t]);
      }
    }
    if (NV == 0 && full < s.OW) {  // lanes past OW load as zeros on both sides (0 * Inf = NaN)
      __m256 dv[MR];
      for (int r = 0; r < MR; ++r) dv[r] = _mm256_maskload_ps(d_row + r * s.P + full, tail);
      for (int t = 0; t < KB; ++t) {
        const __m256 xv = _mm256_maskload_ps(x_row + off[t] + full, tail);
        for (int r = 0; r < MR; ++r) acc[r][t] = _mm256_fmadd_ps(dv[r], xv, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < KB; ++t) {
      // Lanes pairwise: (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1.
      const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(acc[r][t]),
                                     _mm256_extractf128_ps(acc[r][t], 1));
      const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
      const float sum = _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
      float& out = dw[r * s.CKK + t];
      out = accumulate ? out + sum : sum;
    }
  }
}

// dw_tile<mr, KB, NV>, for mr in [1, MR].
template <int KB, int NV, int MR = kMaxFilters>
void dw_tile_mr(int mr, float* dw, const float* dout, const float* xp, const std::int64_t* off,
                const Plane& s, bool accumulate) {
  if constexpr (MR > 1) {
    if (mr < MR) return dw_tile_mr<KB, NV, MR - 1>(mr, dw, dout, xp, off, s, accumulate);
  }
  dw_tile<MR, KB, NV>(dw, dout, xp, off, s, accumulate);
}

// The weight gradient of one sample with rows of NV vectors (0: any width).
template <int NV>
void dw_sample(float* dw, const float* dout, const float* xp, const Plane& s, std::int64_t OC,
               bool accumulate) {
  const std::int64_t* off = tap_offsets(s);
  for (std::int64_t oc = 0; oc < OC; oc += kMaxFilters) {
    const int mr = static_cast<int>(std::min<std::int64_t>(kMaxFilters, OC - oc));
    for (std::int64_t k = 0; k < s.CKK; k += kMaxTaps) {
      float* dw_tile_at = dw + oc * s.CKK + k;
      const float* dout_oc = dout + oc * s.P;
      switch (std::min<std::int64_t>(kMaxTaps, s.CKK - k)) {
        case 1: dw_tile_mr<1, NV>(mr, dw_tile_at, dout_oc, xp, off + k, s, accumulate); break;
        case 2: dw_tile_mr<2, NV>(mr, dw_tile_at, dout_oc, xp, off + k, s, accumulate); break;
        default: dw_tile_mr<3, NV>(mr, dw_tile_at, dout_oc, xp, off + k, s, accumulate);
      }
    }
  }
}

// The routines of DirectKernels (contracts in conv/kernels/conv_kernels.hpp).
void forward_f32(float* y, const float* xp, const float* w, const float* b,
                                  const ConvGeom& g, std::int64_t OC) {
  const Plane s(g);
  const std::int64_t* off = tap_offsets(s);
  const std::int64_t vectors = (s.OW + 7) / 8;
  for (std::int64_t oh = 0; oh < s.OH; ++oh) {
    const float* x_row = xp + oh * s.SH * s.WP;
    float* y_row = y + oh * s.OW;
    for (std::int64_t v = 0; v < vectors;) {
      const int nv = next_tile_vectors(vectors - v);
      const std::int64_t ow = 8 * v;
      const int last = static_cast<int>(std::min<std::int64_t>(8, s.OW - ow - 8 * (nv - 1)));
      const int filters = max_filters(nv);
      for (std::int64_t oc = 0; oc < OC; oc += filters) {
        const int mr = static_cast<int>(std::min<std::int64_t>(filters, OC - oc));
        float* y_tile = y_row + oc * s.P + ow;
        const float* w_oc = w + oc * s.CKK;
        const float* b_oc = b == nullptr ? nullptr : b + oc;
        const float* x_tile = x_row + ow;
        switch (nv) {
          case 1: forward_tile_mr<1>(mr, y_tile, x_tile, off, w_oc, b_oc, s, last); break;
          case 2: forward_tile_mr<2>(mr, y_tile, x_tile, off, w_oc, b_oc, s, last); break;
          case 3: forward_tile_mr<3>(mr, y_tile, x_tile, off, w_oc, b_oc, s, last); break;
          default: forward_tile_mr<4>(mr, y_tile, x_tile, off, w_oc, b_oc, s, last);
        }
      }
      v += nv;
    }
  }
}

void dw_f32(float* dw, const float* dout, const float* xp, const ConvGeom& g, std::int64_t OC,
            bool accumulate) {
  const Plane s(g);
  switch (s.OW % 8 == 0 ? s.OW / 8 : 0) {  // short rows of whole vectors: unrolled
    case 1: return dw_sample<1>(dw, dout, xp, s, OC, accumulate);
    case 2: return dw_sample<2>(dw, dout, xp, s, OC, accumulate);
    case 3: return dw_sample<3>(dw, dout, xp, s, OC, accumulate);
    case 4: return dw_sample<4>(dw, dout, xp, s, OC, accumulate);
    default: return dw_sample<0>(dw, dout, xp, s, OC, accumulate);
  }
}

}  // namespace

}  // namespace fastbp::conv_kernels

namespace fastbp::avx2 {

const conv_kernels::DirectKernels& direct_part() {
  static const conv_kernels::DirectKernels kernels{&conv_kernels::forward_f32,
                                                   &conv_kernels::dw_f32};
  return kernels;
}

}  // namespace fastbp::avx2
