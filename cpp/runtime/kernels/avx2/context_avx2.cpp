// The AVX2 (+ FMA) kernel context: every kernel from the avx2 folders.
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

const KernelContext& context() {
  static const KernelContext ctx{
      "avx2",
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

}  // namespace fastbp::avx2
