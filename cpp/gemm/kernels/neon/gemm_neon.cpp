// NEON GEMM micro-kernels (AArch64, where NEON is part of the baseline: no extra flags).
// Legend as in kernels.hpp: MR x NR tile of C, depth k.
//   f32: 8 x 8, sixteen q-register accumulators (8 rows x 2 vectors of 4)
//   f64: 4 x 4, eight q-register accumulators (4 rows x 2 vectors of 2)
// Each step of k: two loads of b, MR scalars of a, 2 MR fused multiply-adds by scalar.
// Edge tiles run the same loop and store only their m x n corner, so every element of C
// sees the same operations whichever tile holds it (bitwise identical for any thread count).
#include <arm_neon.h>

#include "runtime/kernels/neon/parts_neon.hpp"

namespace fastbp::gemm_kernels {

namespace {

// The per-precision vector operations the kernel template needs.
struct F32 {
  using T = float;
  using V = float32x4_t;
  static constexpr int W = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const T* p) { return vld1q_f32(p); }
  static void store(T* p, V v) { vst1q_f32(p, v); }
  static V fma_n(V acc, V b, T a) { return vfmaq_n_f32(acc, b, a); }  // acc + b * a
  static V mul_n(V v, T s) { return vmulq_n_f32(v, s); }
};

struct F64 {
  using T = double;
  using V = float64x2_t;
  static constexpr int W = 2;
  static V zero() { return vdupq_n_f64(0.0); }
  static V load(const T* p) { return vld1q_f64(p); }
  static void store(T* p, V v) { vst1q_f64(p, v); }
  static V fma_n(V acc, V b, T a) { return vfmaq_n_f64(acc, b, a); }
  static V mul_n(V v, T s) { return vmulq_n_f64(v, s); }
};

// C[0:m, 0:n] := beta * C + alpha * (a @ b) on one MR x (2W) tile (contract in kernels.hpp).
// All MR rows of a and NR columns of b exist (packed panels are zero-padded), so the loop
// always computes the whole tile.
template <class S, int MR>
void kernel(std::int64_t k, typename S::T alpha, const typename S::T* a, std::int64_t rs_a,
            std::int64_t cs_a, const typename S::T* b, std::int64_t rs_b, typename S::T beta,
            typename S::T* c, std::int64_t ldc, int m, int n) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = 2 * W;
  V acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();
  for (std::int64_t p = 0; p < k; ++p) {
    const V b0 = S::load(b), b1 = S::load(b + W);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i * rs_a];
      acc[i][0] = S::fma_n(acc[i][0], b0, ai);
      acc[i][1] = S::fma_n(acc[i][1], b1, ai);
    }
    a += cs_a;
    b += rs_b;
  }
  T tile[MR * NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    S::store(tile + i * NR, alpha == T(1) ? acc[i][0] : S::mul_n(acc[i][0], alpha));
    S::store(tile + i * NR + W, alpha == T(1) ? acc[i][1] : S::mul_n(acc[i][1], alpha));
  }
  for (int i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) ci[j] = ti[j];
    } else {
      for (int j = 0; j < n; ++j) ci[j] = ti[j] + beta * ci[j];
    }
  }
}

constexpr KernelTable table{
    "neon",
    {8, 8, 128, 256, 4096, &kernel<F32, 8>},
    {4, 4, 96, 256, 4096, &kernel<F64, 4>},
};

}  // namespace

}  // namespace fastbp::gemm_kernels

namespace fastbp::neon {

const gemm_kernels::KernelTable& gemm_part() { return gemm_kernels::table; }

}  // namespace fastbp::neon
