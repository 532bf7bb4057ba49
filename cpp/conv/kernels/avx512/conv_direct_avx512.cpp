// AVX-512 direct convolution for stride-1 rows (this unit is built with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq). Contracts in conv/kernels/conv_kernels.hpp.
//
// Forward tile: MR filters x NV vectors of 16 output pixels of one row, MR * NV accumulators;
// per tap, NV unaligned loads of the image row (shifted by kw) and MR broadcast weights; the
// row's last vector is stored under a lane mask. Weight-gradient tile: MR filters x KB taps,
// MR * KB accumulators; per 16 pixels, MR loads of dout and KB shifted loads of the image,
// the row's tail under a lane mask (lanes past OW load as zeros). Both keep 24 accumulators
// at most, so the operands fit the 32 vector registers with them.
#define FASTBP_ISA_TAG avx512
#include <immintrin.h>

#include <algorithm>

#include "conv/kernels/direct_plane.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::conv_kernels {

namespace {

constexpr int kLanes = 16;      // floats per vector
constexpr int kMaxFilters = 4;  // MR of the weight-gradient tile
constexpr int kMaxTaps = 6;     // KB

// The first n lanes (1 <= n <= 16) of a vector.
inline __mmask16 first_lanes(std::int64_t n) {
  return static_cast<__mmask16>(0xffffu >> (kLanes - n));
}

// y[r, ow0 + 16v + lane] for r < MR, v < NV, from x (the padded sample at row oh * SH,
// column ow0) and off (each tap's offset); the lanes of `last` (a mask of the first 1..16
// lanes) of the last vector are stored.
template <int MR, int NV>
void forward_tile(float* y, const float* x, const std::int64_t* off, const float* w,
                  const float* b, const Plane& s, __mmask16 last) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < s.CKK; ++k) {
    const float* x_k = x + off[k];
    // Hold the smaller operand set in registers beside the accumulators (32 in all).
    if constexpr (NV > MR) {
      __m512 wv[MR];
      for (int r = 0; r < MR; ++r) wv[r] = _mm512_set1_ps(w[r * s.CKK + k]);
      for (int v = 0; v < NV; ++v) {
        const __m512 xv = _mm512_loadu_ps(x_k + kLanes * v);
        for (int r = 0; r < MR; ++r) acc[r][v] = _mm512_fmadd_ps(wv[r], xv, acc[r][v]);
      }
    } else {
      __m512 xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(x_k + kLanes * v);
      for (int r = 0; r < MR; ++r) {
        const __m512 wv = _mm512_set1_ps(w[r * s.CKK + k]);
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* y_r = y + r * s.P;
    for (int v = 0; v < NV; ++v) {
      const __m512 out = b == nullptr ? acc[r][v] : _mm512_add_ps(acc[r][v], _mm512_set1_ps(b[r]));
      if (v == NV - 1) {
        _mm512_mask_storeu_ps(y_r + kLanes * v, last, out);
      } else {
        _mm512_storeu_ps(y_r + kLanes * v, out);
      }
    }
  }
}

// Filters per forward tile of NV vectors: 24 accumulators (NV + MR loads per MR * NV
// multiply-adds), and 16 for one vector, where 24 would load more than it multiplies.
constexpr int max_filters(int nv) { return nv == 1 ? 16 : 24 / nv; }

// forward_tile<mr, NV>, for mr in [1, MR].
template <int NV, int MR = max_filters(NV)>
void forward_tile_mr(int mr, float* y, const float* x, const std::int64_t* off, const float* w,
                     const float* b, const Plane& s, __mmask16 last) {
  if constexpr (MR > 1) {
    if (mr < MR) return forward_tile_mr<NV, MR - 1>(mr, y, x, off, w, b, s, last);
  }
  forward_tile<MR, NV>(y, x, off, w, b, s, last);
}

// v with lane l moved to lane l ^ bit.
inline __m512 swap_lanes(__m512 v, int bit) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i to = _mm512_xor_si512(lane, _mm512_set1_epi32(bit));
  return _mm512_permutex2var_ps(v, to, v);
}

// The sum of the 16 lanes of v pairwise, halving: lane l + lane l+8, then l + l+4, then
// l + l+2, then 0 + 1.
inline float lanes_pairwise(__m512 v) {
  for (int bit = 8; bit > 0; bit /= 2) v = _mm512_add_ps(v, swap_lanes(v, bit));
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, v);
  return lanes[0];
}

// dw[r, t] for r < MR, t < KB, from one sample (see the header's order); offsets[t] is
// tap t's tap_offset. NV > 0: rows of exactly NV vectors (OW == 16 * NV), whose loop the
// compiler unrolls (the same operations in the same order as NV == 0, any OW).
template <int MR, int KB, int NV>
void dw_tile(float* dw, const float* dout, const float* xp, const std::int64_t* offsets,
             const Plane& s, bool accumulate) {
  std::int64_t off[KB];  // in registers
  for (int t = 0; t < KB; ++t) off[t] = offsets[t];
  __m512 acc[MR][KB];
  for (int r = 0; r < MR; ++r)
    for (int t = 0; t < KB; ++t) acc[r][t] = _mm512_setzero_ps();
  const std::int64_t full = NV > 0 ? kLanes * NV : s.OW / kLanes * kLanes;
  const __mmask16 tail = full < s.OW ? first_lanes(s.OW - full) : 0;
  for (std::int64_t oh = 0; oh < s.OH; ++oh) {
    const float* d_row = dout + oh * s.OW;
    const float* x_row = xp + oh * s.SH * s.WP;
#pragma GCC unroll 2
    for (std::int64_t ow = 0; ow < full; ow += kLanes) {
      __m512 dv[MR];
      for (int r = 0; r < MR; ++r) dv[r] = _mm512_loadu_ps(d_row + r * s.P + ow);
      for (int t = 0; t < KB; ++t) {
        const __m512 xv = _mm512_loadu_ps(x_row + off[t] + ow);
        for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_fmadd_ps(dv[r], xv, acc[r][t]);
      }
    }
    if (NV == 0 && tail != 0) {  // lanes past OW load as zeros on both sides (0 * Inf = NaN)
      __m512 dv[MR];
      for (int r = 0; r < MR; ++r) dv[r] = _mm512_maskz_loadu_ps(tail, d_row + r * s.P + full);
      for (int t = 0; t < KB; ++t) {
        const __m512 xv = _mm512_maskz_loadu_ps(tail, x_row + off[t] + full);
        for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_fmadd_ps(dv[r], xv, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < KB; ++t) {
      const float sum = lanes_pairwise(acc[r][t]);
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

// dw_tile_mr<kb, NV>, for kb in [1, KB].
template <int NV, int KB = kMaxTaps>
void dw_tile_kb(int kb, int mr, float* dw, const float* dout, const float* xp,
                const std::int64_t* off, const Plane& s, bool accumulate) {
  if constexpr (KB > 1) {
    if (kb < KB) return dw_tile_kb<NV, KB - 1>(kb, mr, dw, dout, xp, off, s, accumulate);
  }
  dw_tile_mr<KB, NV>(mr, dw, dout, xp, off, s, accumulate);
}

// The weight gradient of one sample with rows of NV vectors (0: any width).
template <int NV>
void dw_sample(float* dw, const float* dout, const float* xp, const Plane& s, std::int64_t OC,
               bool accumulate) {
  const std::int64_t* off = tap_offsets(s);
  for (std::int64_t oc = 0; oc < OC; oc += kMaxFilters) {
    const int mr = static_cast<int>(std::min<std::int64_t>(kMaxFilters, OC - oc));
    for (std::int64_t k = 0; k < s.CKK; k += kMaxTaps) {
      const int kb = static_cast<int>(std::min<std::int64_t>(kMaxTaps, s.CKK - k));
      dw_tile_kb<NV>(kb, mr, dw + oc * s.CKK + k, dout + oc * s.P, xp, off + k, s, accumulate);
    }
  }
}

// The routines of DirectKernels (contracts in conv/kernels/conv_kernels.hpp).
void forward_f32(float* y, const float* xp, const float* w, const float* b, const ConvGeom& g,
                 std::int64_t OC) {
  const Plane s(g);
  const std::int64_t* off = tap_offsets(s);
  const std::int64_t vectors = (s.OW + kLanes - 1) / kLanes;
  for (std::int64_t oh = 0; oh < s.OH; ++oh) {
    const float* x_row = xp + oh * s.SH * s.WP;
    float* y_row = y + oh * s.OW;
    for (std::int64_t v = 0; v < vectors;) {
      const int nv = next_tile_vectors(vectors - v);
      const std::int64_t ow = kLanes * v;
      const __mmask16 last =
          first_lanes(std::min<std::int64_t>(kLanes, s.OW - ow - kLanes * (nv - 1)));
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
  switch (s.OW % kLanes == 0 ? s.OW / kLanes : 0) {  // short rows of whole vectors: unrolled
    case 1: return dw_sample<1>(dw, dout, xp, s, OC, accumulate);
    case 2: return dw_sample<2>(dw, dout, xp, s, OC, accumulate);
    default: return dw_sample<0>(dw, dout, xp, s, OC, accumulate);
  }
}

}  // namespace

}  // namespace fastbp::conv_kernels

namespace fastbp::avx512 {

const conv_kernels::DirectKernels& direct_part() {
  static const conv_kernels::DirectKernels kernels{&conv_kernels::forward_f32,
                                                   &conv_kernels::dw_f32};
  return kernels;
}

}  // namespace fastbp::avx512
