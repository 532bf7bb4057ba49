// Checks the AVX-512 and NEON micro-kernels (built against emulate/immintrin.h and
// emulate/arm_neon.h, SIMDe's portable intrinsics, so any CPU runs them) and the generic ones on every edge tile m x n,
// alpha, beta (beta = 0 with NaN in C), packed and direct operand strides,
// against a double-precision loop; C outside the m x n part must stay
// untouched. Prints "<isa> bad=0" per table on success. Driven by
// tests/test_gemm.py; not part of the library build.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/kernels/avx512/parts_avx512.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"
#include "runtime/kernels/neon/parts_neon.hpp"

using namespace fastbp::gemm_kernels;

namespace {

template <class T>
int check(const KernelInfo<T>& ki) {
  const int MR = ki.mr, NR = ki.nr;
  const long k = 37, lda = 50, ldb = NR + 3, ldc = NR + 5;
  // Row-major operands for direct access, and their packed panels.
  std::vector<T> a(MR * lda), b(k * ldb);
  for (auto& x : a) x = T(std::rand() % 17 - 8) / 8;
  for (auto& x : b) x = T(std::rand() % 13 - 6) / 4;
  struct alignas(64) Line { T v[64 / sizeof(T)]; };
  std::vector<Line> ap_buf(MR * k), bp_buf(NR * k);
  T* ap = ap_buf[0].v;
  T* bp = bp_buf[0].v;
  for (long p = 0; p < k; ++p) {
    for (int i = 0; i < MR; ++i) ap[p * MR + i] = a[i * lda + p];
    for (int j = 0; j < NR; ++j) bp[p * NR + j] = b[p * ldb + j];
  }
  int bad = 0;
  for (int direct = 0; direct < 2; ++direct)
    for (int m = 1; m <= MR; ++m)
      for (int n = 1; n <= NR; ++n)
        for (T alpha : {T(1), T(0.5)})
          for (T beta : {T(0), T(1), T(-1.5)}) {
            std::vector<T> c(MR * ldc);
            for (auto& x : c) x = beta == T(0) ? T(NAN) : T(std::rand() % 9);
            const std::vector<T> c0 = c;
            if (direct)
              ki.kernel(k, alpha, a.data(), lda, 1, b.data(), ldb, beta, c.data(), ldc, m, n);
            else
              ki.kernel(k, alpha, ap, 1, MR, bp, NR, beta, c.data(), ldc, m, n);
            for (int i = 0; i < MR; ++i)
              for (int j = 0; j < ldc; ++j) {
                const T got = c[i * ldc + j], was = c0[i * ldc + j];
                bool ok;
                if (i < m && j < n) {
                  double acc = 0;
                  for (long p = 0; p < k; ++p) acc += double(a[i * lda + p]) * b[p * ldb + j];
                  const double want = alpha * acc + (beta == T(0) ? 0.0 : beta * double(was));
                  ok = std::fabs(got - want) <= 1e-4 * (1 + std::fabs(want));
                } else {
                  ok = got == was || (std::isnan(got) && std::isnan(was));
                }
                if (!ok && bad++ < 5)
                  std::printf("mismatch: direct %d m %d n %d alpha %g beta %g at (%d, %d)\n",
                              direct, m, n, double(alpha), double(beta), i, j);
              }
          }
  return bad;
}

}  // namespace

int main() {
  for (const KernelTable* t : {&fastbp::avx512::gemm_part(), &fastbp::neon::gemm_part(),
                               &fastbp::generic::gemm_part()})
    std::printf("%s bad=%d\n", t->isa, check(t->f32) + check(t->f64));
  return 0;
}
