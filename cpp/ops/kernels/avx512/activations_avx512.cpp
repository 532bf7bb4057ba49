// The activation loops of ops/kernels/activation_loops.hpp, compiled with -mavx512f ...
// (512-bit vectors).
#define FASTBP_ISA_TAG avx512
#include "ops/kernels/activation_loops.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

const ActivationTables& activations_part() { return activation_loops::tables(); }

}  // namespace fastbp::avx512
