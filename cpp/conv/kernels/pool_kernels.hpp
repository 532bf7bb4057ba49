// The pooling part of a kernel context (runtime/context.hpp): row kernels. Plain
// declarations only: this header is shared by units compiled with different ISA flags.
#pragma once

#include <cstdint>

namespace fastbp::pool_kernels {

struct PoolKernels {
  // One output row of 2x2, stride-2 max pooling over float input rows x0 and x1 (the
  // window's top and bottom rows): for ow in [0, count),
  //   y[ow] = max of {x0[2ow], x0[2ow+1], x1[2ow], x1[2ow+1]}, the first maximum in that
  //   order, a NaN winning over numbers (the first NaN);
  //   argmax[ow] = base + 2ow + offset of the winner (0, 1, W or W+1).
  // With relu, y[ow] is the maximum of relu(window) instead: the maximum when it is positive
  // or NaN, else relu(x0[2ow]) (the first of the window's zeros, keeping its sign).
  // Returns how many outputs it wrote, from the left: all of them when count is at least
  // the kernel's vector width, none otherwise (the caller finishes the row).
  std::int64_t (*max_pool_2x2s2_row_f32)(float* y, std::int64_t* argmax, const float* x0,
                                         const float* x1, std::int64_t count, std::int64_t base,
                                         std::int64_t W, bool relu);

  // The backward of one such row, written once: for ow in [0, count), with
  // v = 0 + dout[ow] (or 0 + 0 where gate, when not null, has gate[ow] <= 0 or NaN) and
  // off = argmax[ow] - (base + 2ow), the 2x2 block dx0[2ow .. 2ow+1], dx1[2ow .. 2ow+1]
  // gets v at offset off (0, 1, W or W+1) and zeros elsewhere.
  // Returns how many outputs it wrote from the left (all when count is at least the vector
  // width, none otherwise), or -1, leaving the row partly written, when some off is not one
  // of the four.
  std::int64_t (*max_unpool_2x2s2_row_f32)(float* dx0, float* dx1, const float* dout,
                                           const float* gate, const std::int64_t* argmax,
                                           std::int64_t count, std::int64_t base, std::int64_t W);
};

}  // namespace fastbp::pool_kernels
