// The AVX-512 kernel context: its own GEMM micro-kernels, small-product loops, activation and
// softmax loops, direct convolutions, pooling rows and peak loop; every other part points at
// the AVX2 one (the next ISA down), whose kernels AVX-512 CPUs run.
#include "runtime/kernels/avx2/parts_avx2.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

const KernelContext& context() {
  static const KernelContext ctx{
      "avx512",
      {&gemm_part(), &small_gemm_part(), activations_part().f32.relu_forward,
       activations_part().f64.relu_forward},
      &activations_part(),
      &softmax_part(),
      &direct_part(),
      &avx2::winograd_part(),
      &pool_part(),
      &fma_loop,
  };
  return ctx;
}

}  // namespace fastbp::avx512
