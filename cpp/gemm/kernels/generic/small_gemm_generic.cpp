// The small-product loops of gemm/kernels/small_gemm.hpp for the generic context (plain
// loops, baseline flags).
#define FASTBP_ISA_TAG generic
#include "gemm/kernels/small_gemm.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  static const gemm_kernels::SmallGemmTable table{
      &gemm_kernels::small_gemm<float>, &gemm_kernels::small_gemm<double>, false};
  return table;
}

}  // namespace fastbp::generic
