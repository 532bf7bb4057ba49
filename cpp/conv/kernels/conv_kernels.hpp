// The direct-convolution part of a kernel context (runtime/context.hpp), for stride-1 rows (SW = 1) and few taps per output
// (small C * KH * KW), where im2col + GEMM spends more time copying than multiplying.
// Plain declarations only: this header is shared by units compiled with different flags.
//
// Legend: as in conv/conv2d.hpp; HP = H + 2 PH, WP = W + 2 PW; k = (c * KH + kh) * KW + kw.
// A padded sample xp is (C, HP, WP) zero-padded pixels followed by kDirectSlack readable
// floats (the kernels load whole vectors at the end of a row, so up to a vector less one
// float past the last row: 15 with AVX-512's 16-float vectors; lanes past OW are discarded).
#pragma once

#include <cstdint>

#include "conv/im2col.hpp"

namespace fastbp::conv_kernels {

inline constexpr std::int64_t kDirectSlack = 16;

struct DirectKernels {
  // Forward of one sample: y (OC, OH, OW) with
  //   y[oc, oh, ow] = (sum over k in order of w[oc, k] * xp[c, oh * SH + kh, ow + kw]) + b[oc],
  // the sum by fused multiply-adds from 0 (b null: no bias). Requires g.SW == 1.
  void (*forward_f32)(float* y, const float* xp, const float* w, const float* b,
                      const ConvGeom& g, std::int64_t OC);
  // Weight gradient of one sample: dw (OC, CKK) = (accumulate ? dw : 0) + dout (OC, P) @
  // col^T, col the sample's im2col. Each entry sums L lanes, L the kernel's vector width in
  // floats (8 for AVX2, 16 for AVX-512): lane l takes the pixels with ow = l mod L, over the
  // rows in order; then the lanes pairwise, halving (lane l + lane l + L/2 for l < L/2, and so
  // on down to lane 0 + lane 1); then adds that to dw. The order is fixed per ISA, so a
  // result is the same for any thread count (not across ISAs). Requires g.SW == 1.
  void (*dw_f32)(float* dw, const float* dout, const float* xp, const ConvGeom& g,
                 std::int64_t OC, bool accumulate);
};

}  // namespace fastbp::conv_kernels
