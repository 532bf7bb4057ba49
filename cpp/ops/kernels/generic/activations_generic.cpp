// The activation loops of ops/kernels/activation_loops.hpp for the generic context.
#define FASTBP_ISA_TAG generic
#include "ops/kernels/activation_loops.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::generic {

const ActivationTables& activations_part() { return activation_loops::tables(); }

}  // namespace fastbp::generic
