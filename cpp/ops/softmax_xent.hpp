// Fused softmax + cross-entropy: loss and gradient in one pass over the scores.
// Legend: N batch, C classes. scores (N, C), labels (N,) in [0, C) (checked by
// the caller), dscores (N, C) = (softmax(scores) - onehot(labels)) / N.
#pragma once

#include <cstdint>

namespace fastbp {

// Returns the mean loss over the batch; writes dscores (may alias scores).
// Row losses are summed in fixed blocks of rows, so the result does not depend on threads.
template <class T>
T softmax_cross_entropy(T* dscores, const T* scores, const std::int64_t* labels, std::int64_t N,
                        std::int64_t C);

}  // namespace fastbp
