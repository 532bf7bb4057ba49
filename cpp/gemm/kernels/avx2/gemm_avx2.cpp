// AVX2 + FMA GEMM micro-kernels (this unit is built with -mavx2 -mfma).
// Legend as in kernels.hpp: MR x NR tile of C, depth k.
//   f32: 6 x 16, twelve ymm accumulators (6 rows x 2 vectors of 8)
//   f64: 6 x 8,  twelve ymm accumulators (6 rows x 2 vectors of 4)
// Each step of k: two loads of b, six broadcasts of a, twelve FMAs.
#include <immintrin.h>

#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::gemm_kernels {

namespace {

// The per-precision vector operations the kernel template needs.
struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_load_ps(p); }
  static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  static void store(T* p, V v) { _mm256_store_ps(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};

struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_load_pd(p); }
  static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  static void store(T* p, V v) { _mm256_store_pd(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
};

constexpr int MR = 6;

// C[0:m, 0:n] := tile + beta * C (only written when beta == 0), from a spilled edge tile
// whose rows are ld elements apart.
template <class T>
void update_edge(const T* tile, int ld, T beta, T* c, std::int64_t ldc, int m, int n) {
  for (int i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * ld;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) ci[j] = ti[j];
    } else {
      for (int j = 0; j < n; ++j) ci[j] = ti[j] + beta * ci[j];
    }
  }
}

// The same update on a tile of at most W columns (an edge panel, e.g. the last 4 of
// N = 100): one vector of b per step and six FMAs instead of twelve. Each element sees
// the same operations as in the full kernel, so the results are identical.
template <class S>
void kernel_narrow(std::int64_t k, typename S::T alpha, const typename S::T* a,
                   std::int64_t rs_a, std::int64_t cs_a, const typename S::T* b,
                   std::int64_t rs_b, typename S::T beta, typename S::T* c, std::int64_t ldc,
                   int m, int n) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  V c0 = S::zero(), c1 = S::zero(), c2 = S::zero(), c3 = S::zero(), c4 = S::zero(),
    c5 = S::zero();
  const T* a0 = a;
  const T* a3 = a + 3 * rs_a;
  const std::int64_t rs2 = 2 * rs_a;
#pragma GCC unroll 4
  for (std::int64_t p = 0; p < k; ++p) {
    const V b0 = S::loadu(b);
    c0 = S::fma(S::bcast(a0), b0, c0);
    c1 = S::fma(S::bcast(a0 + rs_a), b0, c1);
    c2 = S::fma(S::bcast(a0 + rs2), b0, c2);
    c3 = S::fma(S::bcast(a3), b0, c3);
    c4 = S::fma(S::bcast(a3 + rs_a), b0, c4);
    c5 = S::fma(S::bcast(a3 + rs2), b0, c5);
    a0 += cs_a;
    a3 += cs_a;
    b += rs_b;
  }
  V acc[MR] = {c0, c1, c2, c3, c4, c5};
  if (alpha != T(1))
    for (auto& v : acc) v = S::mul(S::set1(alpha), v);
  alignas(64) T tile[MR * W];
  for (int i = 0; i < MR; ++i) S::store(tile + i * W, acc[i]);
  update_edge(tile, W, beta, c, ldc, m, n);
}

// C[0:m, 0:n] := beta * C + alpha * (a @ b) on one 6 x (2W) tile (contract in kernels.hpp).
template <class S>
void kernel(std::int64_t k, typename S::T alpha, const typename S::T* a, std::int64_t rs_a,
            std::int64_t cs_a, const typename S::T* b, std::int64_t rs_b, typename S::T beta,
            typename S::T* c, std::int64_t ldc, int m, int n) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = 2 * W;
  if (n <= W) return kernel_narrow<S>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n);

  V c00 = S::zero(), c01 = S::zero(), c10 = S::zero(), c11 = S::zero();
  V c20 = S::zero(), c21 = S::zero(), c30 = S::zero(), c31 = S::zero();
  V c40 = S::zero(), c41 = S::zero(), c50 = S::zero(), c51 = S::zero();

  for (int i = 0; i < m; ++i) {  // the tile of C is needed right after the loop
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }

  // Rows 0-2 at a0 + {0, 1, 2} * rs_a, rows 3-5 at a3 + {0, 1, 2} * rs_a.
  const T* a0 = a;
  const T* a3 = a + 3 * rs_a;
  const std::int64_t rs2 = 2 * rs_a;
#pragma GCC unroll 4
  for (std::int64_t p = 0; p < k; ++p) {
    const V b0 = S::loadu(b);
    const V b1 = S::loadu(b + W);
    V ai = S::bcast(a0);
    c00 = S::fma(ai, b0, c00);
    c01 = S::fma(ai, b1, c01);
    ai = S::bcast(a0 + rs_a);
    c10 = S::fma(ai, b0, c10);
    c11 = S::fma(ai, b1, c11);
    ai = S::bcast(a0 + rs2);
    c20 = S::fma(ai, b0, c20);
    c21 = S::fma(ai, b1, c21);
    ai = S::bcast(a3);
    c30 = S::fma(ai, b0, c30);
    c31 = S::fma(ai, b1, c31);
    ai = S::bcast(a3 + rs_a);
    c40 = S::fma(ai, b0, c40);
    c41 = S::fma(ai, b1, c41);
    ai = S::bcast(a3 + rs2);
    c50 = S::fma(ai, b0, c50);
    c51 = S::fma(ai, b1, c51);
    a0 += cs_a;
    a3 += cs_a;
    b += rs_b;
  }

  V acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const V va = S::set1(alpha);
  if (alpha != T(1))
    for (auto& row : acc) row[0] = S::mul(va, row[0]), row[1] = S::mul(va, row[1]);

  if (m == MR && n == NR) {
    if (beta == T(0)) {
      for (int i = 0; i < MR; ++i) S::storeu(c + i * ldc, acc[i][0]), S::storeu(c + i * ldc + W, acc[i][1]);
    } else if (beta == T(1)) {
      for (int i = 0; i < MR; ++i) {
        T* ci = c + i * ldc;
        S::storeu(ci, S::add(acc[i][0], S::loadu(ci)));
        S::storeu(ci + W, S::add(acc[i][1], S::loadu(ci + W)));
      }
    } else {
      const V vb = S::set1(beta);
      for (int i = 0; i < MR; ++i) {
        T* ci = c + i * ldc;
        S::storeu(ci, S::add(acc[i][0], S::mul(vb, S::loadu(ci))));
        S::storeu(ci + W, S::add(acc[i][1], S::mul(vb, S::loadu(ci + W))));
      }
    }
    return;
  }
  // Edge tile: spill alpha * (a @ b) to a small buffer, then update the valid part.
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; ++i) S::store(tile + i * NR, acc[i][0]), S::store(tile + i * NR + W, acc[i][1]);
  update_edge(tile, NR, beta, c, ldc, m, n);
}

constexpr KernelTable table{
    "avx2",
    {MR, 16, 144, 256, 4080, &kernel<F32>},
    {MR, 8, 72, 256, 4080, &kernel<F64>},
};

}  // namespace

}  // namespace fastbp::gemm_kernels

namespace fastbp::avx2 {

const gemm_kernels::KernelTable& gemm_part() { return gemm_kernels::table; }

}  // namespace fastbp::avx2
