// Fully connected layer on the core GEMM: y = x @ W + b.
// Legend: N batch, D in features, M out features. x (N, D), W (D, M), b (M,), y (N, M).
#pragma once

#include <cstdint>

namespace fastbp {

// b may be null (no bias). With relu, y = relu(x @ W + b) (a ReLU fused after the layer,
// bitwise relu_forward of the plain result).
template <class T>
void linear_forward(T* y, const T* x, const T* W, const T* b, std::int64_t N, std::int64_t D,
                    std::int64_t M, bool relu = false);

// dx (N, D) = dout @ W^T; dW (D, M) = x^T @ dout; db (M,) = sum over N of dout.
// dx, dW, db may each be null to skip it. With accumulate, dW and db get += instead of =.
// A non-null gate (N, M) (the y of a relu forward) replaces dout by relu_backward(dout,
// gate): dout where gate > 0, else 0.
template <class T>
void linear_backward(T* dx, T* dW, T* db, const T* dout, const T* x, const T* W, std::int64_t N,
                     std::int64_t D, std::int64_t M, bool accumulate, const T* gate = nullptr);

// db (M,) (+)= column sums of dout (N, M), each summed in row order (thread-count independent).
template <class T>
void column_sums(T* db, const T* dout, std::int64_t N, std::int64_t M, bool accumulate);

}  // namespace fastbp
