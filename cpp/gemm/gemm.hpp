// GEMM: C := alpha * op(A) @ op(B) + beta * C, row-major (and gemm_bias, a linear layer's
// forward product with its bias).
//
// Legend: op(A) is M x K, op(B) is K x N, C is M x N.
//   A is stored M x K (lda >= K) or, with trans_a, K x M (lda >= M); likewise B.
// Contract: with beta == 0, C is only written, never read (NaN in C does not leak).
// Threads split M and N, or K into parts whose bounds depend on the shape alone (summed
// in part order): results are bitwise identical for any thread count.
#pragma once

#include <cstdint>

namespace fastbp {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc);

// C (M x N) := A (M x K) @ B (K x N) + bias (N,) added to every row, then with relu
// C := max(C, 0) (NaN kept, as np.maximum); no transposes, C only written. Products small
// enough for the small-GEMM loops add the bias and take the ReLU as they store C (one pass
// over C); the others fill C with the bias first and take the ReLU after.
template <class T>
void gemm_bias(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda,
               const T* B, std::int64_t ldb, const T* bias, T* C, std::int64_t ldc, bool relu);

// The naive triple loop: oracle for tests and fallback. Same contract.
template <class T>
void gemm_ref(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
              T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
              std::int64_t ldc);

}  // namespace fastbp
