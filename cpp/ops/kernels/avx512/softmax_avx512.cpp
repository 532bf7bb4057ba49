// The softmax + cross-entropy loops of ops/kernels/softmax_loops.hpp, with -mavx512f ...
#define FASTBP_ISA_TAG avx512
#include "ops/kernels/softmax_loops.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::avx512 {

const SoftmaxTables& softmax_part() { return softmax_loops::tables(); }

}  // namespace fastbp::avx512
