// The NEON kernel context (AArch64): its own GEMM micro-kernels; every other part points at
// the generic one (the next ISA down): plain loops, which the compiler vectorises with NEON
// at the AArch64 baseline, and the portable im2col + GEMM convolutions and pooling rows.
#include "runtime/kernels/generic/parts_generic.hpp"
#include "runtime/kernels/neon/parts_neon.hpp"

namespace fastbp::neon {

const KernelContext& context() {
  static const KernelContext ctx{
      "neon",
      {&gemm_part(), &generic::small_gemm_part(), generic::activations_part().f32.relu_forward,
       generic::activations_part().f64.relu_forward},
      &generic::activations_part(),
      &generic::softmax_part(),
      &generic::reductions_part(),
      nullptr,  // direct convolutions
      nullptr,  // Winograd
      nullptr,  // pooling rows
      &generic::fma_loop,
  };
  return ctx;
}

}  // namespace fastbp::neon
