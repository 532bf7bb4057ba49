// Geometry shared by the direct-convolution kernels of every ISA
// (conv/kernels/<isa>/conv_direct_<isa>.cpp): one padded sample's sizes and each tap's offset
// in it. Compiled once per ISA by the unit that includes it, inside the inline namespace
// FASTBP_ISA_TAG (runtime/isa_tag.hpp), so no two ISAs' copies are merged by the linker.
// Legend: conv/kernels/conv_kernels.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "conv/im2col.hpp"
#include "runtime/isa_tag.hpp"

namespace fastbp::conv_kernels {
inline namespace FASTBP_ISA_TAG {

// Geometry of one padded sample, in the forms the loops use.
struct Plane {
  std::int64_t C, KH, KW, HP, WP, SH, OH, OW, P, CKK;
  explicit Plane(const ConvGeom& g)
      : C(g.C), KH(g.KH), KW(g.KW), HP(g.H + 2 * g.PH), WP(g.W + 2 * g.PW), SH(g.SH),
        OH(g.OH), OW(g.OW), P(g.P()), CKK(g.CKK()) {}
};

// Offset in a padded sample of tap k's pixel for output (0, 0).
inline std::int64_t tap_offset(const Plane& s, std::int64_t k) {
  const std::int64_t kw = k % s.KW, ckh = k / s.KW;  // ckh = c * KH + kh
  const std::int64_t c = ckh / s.KH, kh = ckh % s.KH;
  return (c * s.HP + kh) * s.WP + kw;
}

// Every tap's tap_offset, in a per-thread buffer that is grown once and then reused.
inline const std::int64_t* tap_offsets(const Plane& s) {
  thread_local std::vector<std::int64_t> off;
  off.resize(static_cast<std::size_t>(s.CKK));
  for (std::int64_t k = 0; k < s.CKK; ++k) off[static_cast<std::size_t>(k)] = tap_offset(s, k);
  return off.data();
}

// Vectors in the next forward tile of a row with `left` vectors to go: 4 or 3, never
// leaving a lone vector when a split into 3s and 4s avoids it.
inline int next_tile_vectors(std::int64_t left) {
  if (left <= 4) return static_cast<int>(left);
  if (left == 5 || left % 3 == 0) return 3;
  return 4;
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::conv_kernels
