#include "ops/linear.hpp"

#include <type_traits>

#include "gemm/gemm.hpp"
#include "ops/activations.hpp"
#include "runtime/context.hpp"
#include "tensor/tensor.hpp"

namespace fastbp {

template <class T>
void linear_forward(T* y, const T* x, const T* W, const T* b, std::int64_t N, std::int64_t D,
                    std::int64_t M, bool relu) {
  if (b != nullptr) return gemm_bias<T>(N, M, D, x, D, W, M, b, y, M, relu);
  gemm<T>(false, false, N, M, D, T(1), x, D, W, M, T(0), y, M);
  if (relu) relu_forward<T>(y, y, N * M);  // in place, while y is warm in cache
}

template <class T>
void column_sums(T* db, const T* dout, std::int64_t N, std::int64_t M, bool accumulate) {
  const ReductionTables& t = *kernel_context().reductions;
  if constexpr (std::is_same_v<T, float>) {
    t.column_sums_f32(db, dout, N, M, accumulate);
  } else {
    t.column_sums_f64(db, dout, N, M, accumulate);
  }
}

template <class T>
void linear_backward(T* dx, T* dW, T* db, const T* dout, const T* x, const T* W, std::int64_t N,
                     std::int64_t D, std::int64_t M, bool accumulate, const T* gate) {
  Tensor gated({gate != nullptr ? N : 0, M}, dtype_of<T>());
  if (gate != nullptr) {
    relu_backward<T>(gated.data_as<T>(), dout, gate, N * M);
    dout = gated.data_as<T>();
  }
  const T beta = accumulate ? T(1) : T(0);
  if (dx) gemm<T>(false, true, N, D, M, T(1), dout, M, W, M, T(0), dx, D);
  if (dW) gemm<T>(true, false, D, M, N, T(1), x, D, dout, M, beta, dW, M);
  if (db) column_sums(db, dout, N, M, accumulate);
}

#define FASTBP_INSTANTIATE(T)                                                                  \
  template void linear_forward<T>(T*, const T*, const T*, const T*, std::int64_t, std::int64_t, \
                                  std::int64_t, bool);                                         \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, std::int64_t,     \
                                   std::int64_t, std::int64_t, bool, const T*);                \
  template void column_sums<T>(T*, const T*, std::int64_t, std::int64_t, bool);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
