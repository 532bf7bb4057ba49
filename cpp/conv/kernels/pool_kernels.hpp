// Pooling row kernels per ISA. Plain declarations only: this header is shared by units
// compiled with different ISA flags.
#pragma once

#include <cstdint>

namespace fastbp::pool_kernels {

// One output row of 2x2, stride-2 max pooling over float input rows x0 and x1 (the
// window's top and bottom rows): for ow in [0, count),
//   y[ow] = max of {x0[2ow], x0[2ow+1], x1[2ow], x1[2ow+1]}, the first maximum in that
//   order, a NaN winning over numbers (the first NaN);
//   argmax[ow] = base + 2ow + offset of the winner (0, 1, W or W+1).
// Returns how many outputs it wrote, from the left: all of them when count >= 8, none
// otherwise (the caller finishes the row).
std::int64_t max_pool_2x2s2_row_f32_avx2(float* y, std::int64_t* argmax, const float* x0,
                                         const float* x1, std::int64_t count,
                                         std::int64_t base, std::int64_t W);

}  // namespace fastbp::pool_kernels
