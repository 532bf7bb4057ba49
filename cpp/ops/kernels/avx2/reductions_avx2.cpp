// The column sums of ops/kernels/reduction_loops.hpp, compiled with -mavx2 -mfma.
#define FASTBP_ISA_TAG avx2
#include "ops/kernels/reduction_loops.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

const ReductionTables& reductions_part() { return reduction_loops::tables(); }

}  // namespace fastbp::avx2
