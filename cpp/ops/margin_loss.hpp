// Multiclass hinge (SVM) loss, PyTorch's MultiMarginLoss, loss and gradient in one pass.
// Legend: N batch, C classes. scores (N, C), labels (N,) in [0, C) (checked by the
// caller), dscores (N, C).
//   loss_i = sum_{j != y_i} max(0, margin - s_{i,y_i} + s_{i,j})^p / C,   p in {1, 2}
//   loss   = scale * sum_i loss_i      (scale = 1 / N for the mean, 1 for the sum)
// The gradient of a term is p * z^(p-1) / C * scale for s_j and minus that for s_y,
// where z > 0 (0 at and below the kink z = 0).
#pragma once

#include <cstdint>

namespace fastbp {

// Returns the loss; writes dscores. Row losses are summed in index order, so the
// result does not depend on threads.
template <class T>
double multi_margin_loss(T* dscores, const T* scores, const std::int64_t* labels, std::int64_t N,
                         std::int64_t C, int p, T margin, double scale);

}  // namespace fastbp
