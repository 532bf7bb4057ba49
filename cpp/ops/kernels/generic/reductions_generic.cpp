// The column sums of ops/kernels/reduction_loops.hpp, compiled with the baseline's flags (any CPU; NEON on AArch64).
#define FASTBP_ISA_TAG generic
#include "ops/kernels/reduction_loops.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const ReductionTables& reductions_part() { return reduction_loops::tables(); }

}  // namespace fastbp::generic
