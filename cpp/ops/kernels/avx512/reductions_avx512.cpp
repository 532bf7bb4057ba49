// The column sums of ops/kernels/reduction_loops.hpp, compiled with the AVX-512 flags.
#define FASTBP_ISA_TAG avx512
#include "ops/kernels/reduction_loops.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

const ReductionTables& reductions_part() { return reduction_loops::tables(); }

}  // namespace fastbp::avx512
