// The activation loops of ops/activation_loops.hpp, compiled with -mavx2 -mfma.
#define FASTBP_ISA_TAG avx2
#include "ops/activation_loops.hpp"

namespace fastbp {

const ActivationTables& avx2_activations() { return activation_loops::tables(); }

}  // namespace fastbp
