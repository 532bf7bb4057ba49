// The small-product loops of gemm/kernels/small_gemm.hpp for the generic context (plain
// loops, baseline flags).
#define FASTBP_ISA_TAG generic
#include "gemm/kernels/small_gemm.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  using gemm_kernels::small_detail::NoVectorLoops;
  static const gemm_kernels::SmallGemmTable table{&gemm_kernels::small_gemm<NoVectorLoops, float>,
                                                  &gemm_kernels::small_gemm<NoVectorLoops, double>,
                                                  false};
  return table;
}

}  // namespace fastbp::generic
