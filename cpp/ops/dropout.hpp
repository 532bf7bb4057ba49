// Inverted dropout. Legend: n elements; x, out, mask, dout, dx contiguous with n elements.
// The keep/drop decision for element i is a pure function of (seed, i): the
// splitmix64 hash of seed + i * golden gives u in [0, 1), kept when u >= p. So
// the mask does not depend on the thread count, and one seed gives one mask.
#pragma once

#include <cstdint>

namespace fastbp {

// mask[i] = 1 / (1 - p) where element i is kept, else 0 (p == 1: all 0);
// out[i] = x[i] * mask[i]. 0 <= p <= 1 (checked by the caller).
template <class T>
void dropout_forward(T* out, T* mask, const T* x, std::int64_t n, double p, std::uint64_t seed);

// dx[i] = dout[i] * mask[i]: the same elements dropped, the same scale.
template <class T>
void dropout_backward(T* dx, const T* dout, const T* mask, std::int64_t n);

}  // namespace fastbp
