// The small-product loops of gemm/kernels/small_gemm.hpp, compiled with -mavx2 -mfma: float32
// runs the vector loops of small_gemm_simd.hpp over 8-float ymm vectors (the same sums as the
// plain loops, in registers; with the wide-N case), double the plain loops.
#define FASTBP_ISA_TAG avx2
#include <immintrin.h>

#include "gemm/kernels/small_gemm_simd.hpp"
#include "runtime/kernels/avx2/lanes.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

// S of small_gemm_simd.hpp: ymm vectors, lane masks in ymm. A dot product's lane l takes
// k = l, l + 8, ...; sums8 adds lanes pairwise ((0+1) + (2+3)) + ((4+5) + (6+7)).
struct Avx2Vectors {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static constexpr bool kScalarTails = true;  // masked stores are slow on AMD cores

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec broadcast(const float* x) { return _mm256_broadcast_ss(x); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_aligned(float* p, Vec v) { _mm256_store_ps(p, v); }
  static Mask first(i64 w) { return ::fastbp::avx2::first_lanes(w); }
  static Vec load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  // _mm256_max_ps returns its second operand when either is NaN or both are zeros.
  static Vec max0(Vec v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  static void sums8(const Vec v[8], float* out) {
    const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(g0), _mm256_extractf128_ps(g0, 1)));
    _mm_storeu_ps(out + 4, _mm_add_ps(_mm256_castps256_ps128(g1), _mm256_extractf128_ps(g1, 1)));
  }
};

}  // namespace small_detail
}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels

namespace fastbp::avx2 {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  using Loops = gemm_kernels::small_detail::SimdLoops<gemm_kernels::small_detail::Avx2Vectors>;
  static const gemm_kernels::SmallGemmTable table{
      &gemm_kernels::small_gemm<Loops, float>, &gemm_kernels::small_gemm<Loops, double>, true};
  return table;
}

}  // namespace fastbp::avx2
