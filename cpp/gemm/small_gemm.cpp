// The small-product loops of gemm/kernels/small_gemm.hpp for baseline x86-64.
#include "gemm/kernels/small_gemm.hpp"

namespace fastbp::gemm_kernels {

const SmallGemmTable& baseline_small_gemm() {
  static const SmallGemmTable table{&small_gemm<float>, &small_gemm<double>};
  return table;
}

}  // namespace fastbp::gemm_kernels
