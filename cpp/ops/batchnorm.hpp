// Batch normalisation over every axis but the channel axis.
// Legend: N batch, C channels, S = H * W spatial positions (S = 1 for (N, C) input);
// x, y, dx, dout (N, C, S) contiguous; gamma, beta, mean, invstd, running_* (C,).
// M = N * S values per channel. xhat = (x - mean) * invstd, y = gamma * xhat + beta.
//
// Per-channel sums run over fixed chunks of rows, accumulated in double, and
// the chunk partials are added in index order: the result is the same for any
// thread count.
#pragma once

#include <cstdint>

namespace fastbp {

// Training pass: batch statistics. Writes y, mean (C,) and invstd = 1 / sqrt(var + eps)
// (C,) with the biased variance var = sum((x - mean)^2) / M. When running_mean and
// running_var are given (both or neither), updates them in place:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)  (M > 1)
// gamma and beta may be null (no affine transform: 1 and 0).
template <class T>
void batchnorm_forward_train(T* y, T* mean, T* invstd, T* running_mean, T* running_var,
                             const T* x, const T* gamma, const T* beta, std::int64_t N,
                             std::int64_t C, std::int64_t S, double eps, double momentum);

// Inference pass with given statistics: mean = running_mean (copied) and
// invstd = 1 / sqrt(running_var + eps) are written (for the backward pass), then y.
template <class T>
void batchnorm_forward_eval(T* y, T* mean, T* invstd, const T* running_mean,
                            const T* running_var, const T* x, const T* gamma, const T* beta,
                            std::int64_t N, std::int64_t C, std::int64_t S, double eps);

// Backward pass with the mean and invstd the forward pass returned.
//   dbeta = sum dout,  dgamma = sum dout * xhat        (per channel; += into the buffers)
//   training (batch statistics depend on x):
//     dx = gamma * invstd * (dout - dbeta / M - xhat * dgamma / M)
//   inference (fixed statistics): dx = gamma * invstd * dout
// gamma_grad / beta_grad may be null (not accumulated); gamma null means 1.
template <class T>
void batchnorm_backward(T* dx, T* gamma_grad, T* beta_grad, const T* dout, const T* x,
                        const T* mean, const T* invstd, const T* gamma, std::int64_t N,
                        std::int64_t C, std::int64_t S, bool training);

}  // namespace fastbp
