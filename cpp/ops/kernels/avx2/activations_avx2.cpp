// The activation loops of ops/kernels/activation_loops.hpp, compiled with -mavx2 -mfma.
#define FASTBP_ISA_TAG avx2
#include "ops/kernels/activation_loops.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

const ActivationTables& activations_part() { return activation_loops::tables(); }

}  // namespace fastbp::avx2
