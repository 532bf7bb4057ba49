#include "ops/softmax_xent.hpp"

#include "runtime/context.hpp"

namespace fastbp {

// The active context's loops (ops/kernels/softmax_loops.hpp).
template <>
float softmax_cross_entropy<float>(float* dscores, const float* scores,
                                   const std::int64_t* labels, std::int64_t N, std::int64_t C) {
  return kernel_context().softmax->f32(dscores, scores, labels, N, C);
}

template <>
double softmax_cross_entropy<double>(double* dscores, const double* scores,
                                     const std::int64_t* labels, std::int64_t N,
                                     std::int64_t C) {
  return kernel_context().softmax->f64(dscores, scores, labels, N, C);
}

}  // namespace fastbp
