// The direct-convolution part of a kernel context (runtime/context.hpp), for stride-1 rows (SW = 1) and few taps per output
// (small C * KH * KW), where im2col + GEMM spends more time copying than multiplying.
// Plain declarations only: this header is shared by units compiled with different flags.
//
// Legend: as in conv/conv2d.hpp; HP = H + 2 PH, WP = W + 2 PW; k = (c * KH + kh) * KW + kw.
// A padded sample xp is (C, HP, WP) zero-padded pixels followed by kDirectSlack readable
// floats (the kernels load whole vectors at the end of a row; lanes past OW are discarded).
#pragma once

#include <cstdint>

#include "conv/im2col.hpp"

namespace fastbp::conv_kernels {

inline constexpr std::int64_t kDirectSlack = 8;

struct DirectKernels {
  // Forward of one sample: y (OC, OH, OW) with
  //   y[oc, oh, ow] = (sum over k in order of w[oc, k] * xp[c, oh * SH + kh, ow + kw]) + b[oc],
  // the sum by fused multiply-adds from 0 (b null: no bias). Requires g.SW == 1.
  void (*forward_f32)(float* y, const float* xp, const float* w, const float* b,
                      const ConvGeom& g, std::int64_t OC);
  // Weight gradient of one sample: dw (OC, CKK) = (accumulate ? dw : 0) + dout (OC, P) @
  // col^T, col the sample's im2col. Each entry sums eight lanes (pixels with ow = lane mod 8)
  // over the rows in order, then the lanes pairwise (a fixed order), then adds that to dw.
  // Requires g.SW == 1.
  void (*dw_f32)(float* dw, const float* dout, const float* xp, const ConvGeom& g,
                 std::int64_t OC, bool accumulate);
};

}  // namespace fastbp::conv_kernels
