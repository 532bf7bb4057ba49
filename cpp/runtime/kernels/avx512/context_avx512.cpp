// The AVX-512 kernel context: every part its own (GEMM micro-kernels, small products,
// activation, softmax and column-sum loops, direct and Winograd convolutions, pooling rows,
// peak loop).
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

const KernelContext& context() {
  static const KernelContext ctx{
      "avx512",
      {&gemm_part(), &small_gemm_part(), activations_part().f32.relu_forward,
       activations_part().f64.relu_forward},
      &activations_part(),
      &softmax_part(),
      &reductions_part(),
      &direct_part(),
      &winograd_part(),
      &pool_part(),
      &fma_loop,
  };
  return ctx;
}

}  // namespace fastbp::avx512
