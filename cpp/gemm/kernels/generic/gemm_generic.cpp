// Portable GEMM micro-kernels (baseline x86-64, or any CPU): plain loops the
// compiler may vectorise. Legend as in kernels.hpp: MR x NR tile, depth k.
#include "runtime/kernels/generic/parts_generic.hpp"

namespace fastbp::gemm_kernels {

namespace {

// C[0:m, 0:n] := beta * C + alpha * (a @ b) on one MR x NR tile (contract in kernels.hpp).
template <class T, int MR, int NR>
void kernel(std::int64_t k, T alpha, const T* a, std::int64_t rs_a, std::int64_t cs_a,
            const T* b, std::int64_t rs_b, T beta, T* c, std::int64_t ldc, int m, int n) {
  T acc[MR][NR] = {};
  for (std::int64_t p = 0; p < k; ++p) {
    const T* ap = a + p * cs_a;
    const T* bp = b + p * rs_b;
    T ai[MR];
    for (int i = 0; i < MR; ++i) ai[i] = ap[i * rs_a];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ai[i] * bp[j];
  }
  for (int i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    for (int j = 0; j < n; ++j) {
      const T v = alpha * acc[i][j];
      ci[j] = beta == T(0) ? v : v + beta * ci[j];
    }
  }
}

constexpr KernelTable table{
    "generic",
    {4, 8, 128, 256, 4096, &kernel<float, 4, 8>},
    {4, 4, 96, 256, 4096, &kernel<double, 4, 4>},
};

}  // namespace

}  // namespace fastbp::gemm_kernels

namespace fastbp::generic {

const gemm_kernels::KernelTable& gemm_part() { return gemm_kernels::table; }

}  // namespace fastbp::generic
