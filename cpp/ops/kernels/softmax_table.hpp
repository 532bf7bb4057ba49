// The softmax part of a kernel context (runtime/context.hpp): one ISA's fused
// softmax + cross-entropy (ops/kernels/softmax_loops.hpp compiled by ops/kernels/<isa>/).
// Contract: ops/softmax_xent.hpp. Plain declarations only.
#pragma once

#include <cstdint>

namespace fastbp {

template <class T>
using SoftmaxCrossEntropy = T (*)(T* dscores, const T* scores, const std::int64_t* labels,
                                  std::int64_t N, std::int64_t C);

struct SoftmaxTables {
  SoftmaxCrossEntropy<float> f32;
  SoftmaxCrossEntropy<double> f64;
};

}  // namespace fastbp
