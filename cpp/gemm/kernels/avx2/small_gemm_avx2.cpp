// The small-product loops of gemm/kernels/small_gemm.hpp, compiled with -mavx2 -mfma.
#define FASTBP_ISA_TAG avx2
#include "gemm/kernels/small_gemm.hpp"

namespace fastbp::gemm_kernels {

const SmallGemmTable& avx2_small_gemm() {
  static const SmallGemmTable table{&small_gemm<float>, &small_gemm<double>};
  return table;
}

}  // namespace fastbp::gemm_kernels
