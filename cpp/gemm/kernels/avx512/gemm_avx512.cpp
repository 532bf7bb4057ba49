// AVX-512 (F/BW/VL/DQ) GEMM micro-kernels (this unit is built with -mavx512f ...).
// Legend as in kernels.hpp: MR x NR tile of C, depth k.
//   f32: 12 x 32, 24 zmm accumulators (12 rows x 2 vectors of 16)
//   f64: 12 x 16, 24 zmm accumulators (12 rows x 2 vectors of 8)
// Each step of k: two loads of b, twelve broadcasts of a, 24 FMAs.
// Edge tiles use masked loads and stores, so C outside the m x n part is never touched.
#include <immintrin.h>

#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::gemm_kernels {

namespace {

struct F32 {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_load_ps(p); }
  static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V maskz_loadu(Mask k, const T* p) { return _mm512_maskz_loadu_ps(k, p); }
  static void mask_storeu(T* p, Mask k, V v) { _mm512_mask_storeu_ps(p, k, v); }
  static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_load_pd(p); }
  static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V maskz_loadu(Mask k, const T* p) { return _mm512_maskz_loadu_pd(k, p); }
  static void mask_storeu(T* p, Mask k, V v) { _mm512_mask_storeu_pd(p, k, v); }
  static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
};

constexpr int MR = 12;

// Lanes [0, n) of a vector of S::W lanes, for n in [0, W].
template <class S>
typename S::Mask lane_mask(int n) {
  return static_cast<typename S::Mask>(n >= S::W ? ~0u : (1u << n) - 1u);
}

// C[0:m, 0:n] := beta * C + alpha * (a @ b) on one 12 x (2W) tile (contract in kernels.hpp).
template <class S>
void kernel(std::int64_t k, typename S::T alpha, const typename S::T* a, std::int64_t rs_a,
            std::int64_t cs_a, const typename S::T* b, std::int64_t rs_b, typename S::T beta,
            typename S::T* c, std::int64_t ldc, int m, int n) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = 2 * W;

  V acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i][0] = S::zero(), acc[i][1] = S::zero();

  for (int i = 0; i < m; ++i) {  // the tile of C is needed right after the loop
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }

  // Row 3g + r at ag[g] + r * rs_a, r = 0, 1, 2.
  const T* ag[MR / 3];
#pragma GCC unroll 4
  for (int g = 0; g < MR / 3; ++g) ag[g] = a + 3 * g * rs_a;
  const std::int64_t rs2 = 2 * rs_a;
  for (std::int64_t p = 0; p < k; ++p) {
    const V b0 = S::loadu(b);
    const V b1 = S::loadu(b + W);
#pragma GCC unroll 4
    for (int g = 0; g < MR / 3; ++g) {
      const V x0 = S::bcast(ag[g]);
      acc[3 * g][0] = S::fma(x0, b0, acc[3 * g][0]);
      acc[3 * g][1] = S::fma(x0, b1, acc[3 * g][1]);
      const V x1 = S::bcast(ag[g] + rs_a);
      acc[3 * g + 1][0] = S::fma(x1, b0, acc[3 * g + 1][0]);
      acc[3 * g + 1][1] = S::fma(x1, b1, acc[3 * g + 1][1]);
      const V x2 = S::bcast(ag[g] + rs2);
      acc[3 * g + 2][0] = S::fma(x2, b0, acc[3 * g + 2][0]);
      acc[3 * g + 2][1] = S::fma(x2, b1, acc[3 * g + 2][1]);
      ag[g] += cs_a;
    }
    b += rs_b;
  }

  if (alpha != T(1)) {
    const V va = S::set1(alpha);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) acc[i][0] = S::mul(va, acc[i][0]), acc[i][1] = S::mul(va, acc[i][1]);
  }

  // Masks for the valid columns of the two vectors of a row (all lanes on full tiles).
  const typename S::Mask k0 = lane_mask<S>(n < W ? n : W);
  const typename S::Mask k1 = lane_mask<S>(n > W ? n - W : 0);
  const V vb = S::set1(beta);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    T* ci = c + i * ldc;
    V r0 = acc[i][0], r1 = acc[i][1];
    if (beta == T(1)) {
      r0 = S::add(r0, S::maskz_loadu(k0, ci));
      r1 = S::add(r1, S::maskz_loadu(k1, ci + W));
    } else if (beta != T(0)) {
      r0 = S::add(r0, S::mul(vb, S::maskz_loadu(k0, ci)));
      r1 = S::add(r1, S::mul(vb, S::maskz_loadu(k1, ci + W)));
    }
    S::mask_storeu(ci, k0, r0);
    S::mask_storeu(ci + W, k1, r1);
  }
}

constexpr KernelTable table{
    "avx512",
    {MR, 32, 192, 256, 3072, &kernel<F32>},
    {MR, 16, 96, 256, 3072, &kernel<F64>},
};

}  // namespace

}  // namespace fastbp::gemm_kernels

namespace fastbp::avx512 {

const gemm_kernels::KernelTable& gemm_part() { return gemm_kernels::table; }

}  // namespace fastbp::avx512
