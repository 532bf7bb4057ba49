#include "gemm/gemm.hpp"

namespace fastbp {

template <class T>
void gemm_ref(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
              T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
              std::int64_t ldc) {
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (std::int64_t p = 0; p < K; ++p) {
        const T a = trans_a ? A[p * lda + i] : A[i * lda + p];
        const T b = trans_b ? B[j * ldb + p] : B[p * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

template void gemm_ref<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                              const float*, std::int64_t, const float*, std::int64_t, float,
                              float*, std::int64_t);
template void gemm_ref<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                               const double*, std::int64_t, const double*, std::int64_t, double,
                               double*, std::int64_t);

}  // namespace fastbp
