// The softmax + cross-entropy loops of ops/kernels/softmax_loops.hpp for the generic context.
#define FASTBP_ISA_TAG generic
#include "ops/kernels/softmax_loops.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const SoftmaxTables& softmax_part() { return softmax_loops::tables(); }

}  // namespace fastbp::generic
