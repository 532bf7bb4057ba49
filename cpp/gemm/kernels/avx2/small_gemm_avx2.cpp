// The small-product loops of gemm/kernels/small_gemm.hpp, compiled with -mavx2 -mfma: float32
// runs the intrinsics loops (with the wide-N case), double the plain loops.
#define FASTBP_ISA_TAG avx2
#include "gemm/kernels/small_gemm.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  static const gemm_kernels::SmallGemmTable table{
      &gemm_kernels::small_gemm<float>, &gemm_kernels::small_gemm<double>, true};
  return table;
}

}  // namespace fastbp::avx2
