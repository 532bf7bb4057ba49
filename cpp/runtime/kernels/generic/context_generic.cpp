// The generic kernel context: plain loops any CPU runs. No direct, Winograd or pooling-row
// kernels: the portable code's im2col + GEMM and scalar rows run instead.
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const KernelContext& context() {
  static const KernelContext ctx{
      "generic",
      {&gemm_part(), &small_gemm_part(), activations_part().f32.relu_forward,
       activations_part().f64.relu_forward},
      &activations_part(),
      &softmax_part(),
      &reductions_part(),
      nullptr,  // direct convolutions
      nullptr,  // Winograd
      nullptr,  // pooling rows
      &fma_loop,
  };
  return ctx;
}

}  // namespace fastbp::generic
