// The softmax + cross-entropy loops of ops/kernels/softmax_loops.hpp, with -mavx2 -mfma.
#define FASTBP_ISA_TAG avx2
#include "ops/kernels/softmax_loops.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::avx2 {

const SoftmaxTables& softmax_part() { return softmax_loops::tables(); }

}  // namespace fastbp::avx2
