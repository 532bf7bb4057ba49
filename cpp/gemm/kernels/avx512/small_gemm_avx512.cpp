// The small-product loops of gemm/kernels/small_gemm.hpp, compiled with -mavx512f ...:
// float32 runs the vector loops of small_gemm_simd.hpp over 16-float zmm vectors, with mask
// registers for every tail (rows_small_k's last N % 16 columns included: the same fused
// operations as a full vector), double the plain loops.
#define FASTBP_ISA_TAG avx512
#include <immintrin.h>

#include "gemm/kernels/small_gemm_simd.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

// S of small_gemm_simd.hpp: zmm vectors, k-register masks. A dot product's lane l takes
// k = l, l + 16, ... (its own lane order, so float32 dot products round differently from the
// AVX2 context's); sums8 first adds lanes l and l + 8, then the AVX2 tree: pairwise
// ((0+1) + (2+3)) + ((4+5) + (6+7)).
struct Avx512Vectors {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr bool kScalarTails = false;

  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec broadcast(const float* x) { return _mm512_set1_ps(*x); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_aligned(float* p, Vec v) { _mm512_store_ps(p, v); }
  static Mask first(i64 w) { return static_cast<Mask>((1u << w) - 1u); }
  static Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // max returns its second operand when either is NaN or both are zeros; zero-masked, as
  // in half (GCC 12 warns inside the plain _mm512_max_ps).
  static Vec max0(Vec v) { return _mm512_maskz_max_ps(0xffff, _mm512_setzero_ps(), v); }
  // The halves by zero-masked extracts: GCC 12 warns (-Wuninitialized) inside the plain
  // extract and _mm512_castps512_ps256, on their undefined vector.
  static __m256 half(Vec v, int upper) {
    const __m512d d = _mm512_castps_pd(v);
    return _mm256_castpd_ps(upper ? _mm512_maskz_extractf64x4_pd(0xf, d, 1)
                                  : _mm512_maskz_extractf64x4_pd(0xf, d, 0));
  }
  static void sums8(const Vec v[8], float* out) {
    __m256 h[8];
    for (int t = 0; t < 8; ++t) h[t] = _mm256_add_ps(half(v[t], 0), half(v[t], 1));
    const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
    const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(h[4], h[5]), _mm256_hadd_ps(h[6], h[7]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(g0), _mm256_extractf128_ps(g0, 1)));
    _mm_storeu_ps(out + 4, _mm_add_ps(_mm256_castps256_ps128(g1), _mm256_extractf128_ps(g1, 1)));
  }
};

}  // namespace small_detail
}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels

namespace fastbp::avx512 {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  using Loops = gemm_kernels::small_detail::SimdLoops<gemm_kernels::small_detail::Avx512Vectors>;
  static const gemm_kernels::SmallGemmTable table{
      &gemm_kernels::small_gemm<Loops, float>, &gemm_kernels::small_gemm<Loops, double>, true};
  return table;
}

}  // namespace fastbp::avx512
