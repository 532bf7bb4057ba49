// Whole products too small for the blocked framework: K <= kSmallK or N <= kSmallN, where
// packing and per-tile set-up cost more than the arithmetic (a 2-feature input layer, an
// output layer with 3 classes). Compiled once per ISA (gemm/small_gemm.cpp for baseline
// x86-64, kernels/avx2/small_gemm_avx2.cpp with AVX2; each in its own inline namespace,
// runtime/isa_tag.hpp) so the loops vectorise with that unit's instructions. Each element
// of C sums its K products in index order (or in fixed interleaved lanes, see
// rows_small_n), and rows are split over threads only whole, so results do not depend
// on the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "gemm/kernels/kernels.hpp"
#include "runtime/isa_tag.hpp"
#include "runtime/threads.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

using i64 = std::int64_t;

template <class T>
T op_a(const SmallProduct<T>& p, i64 i, i64 k) {
  return p.trans_a ? p.a[k * p.lda + i] : p.a[i * p.lda + k];
}
template <class T>
T op_b(const SmallProduct<T>& p, i64 k, i64 j) {
  return p.trans_b ? p.b[j * p.ldb + k] : p.b[k * p.ldb + j];
}

template <class T>
void store(const SmallProduct<T>& p, T* c, T value) {
  *c = p.beta == T(0) ? p.alpha * value : p.alpha * value + p.beta * *c;
}

// Rows [i0, i1) when K is a compile-time KK <= kSmallK: c(i, :) = sum_k a(i, k) * b(k, :),
// vectorised along the row; b_rows holds op(B) row by row (K x N, contiguous).
template <int KK, class T>
void rows_small_k(const SmallProduct<T>& p, const T* b_rows, i64 i0, i64 i1) {
  const i64 N = p.N;
  for (i64 i = i0; i < i1; ++i) {
    T a_i[KK];
    for (int k = 0; k < KK; ++k) a_i[k] = op_a(p, i, k);
    T* __restrict c_i = p.c + i * p.ldc;
    if (p.beta == T(0)) {
      for (i64 j = 0; j < N; ++j) {
        T s = a_i[0] * b_rows[j];
        for (int k = 1; k < KK; ++k) s += a_i[k] * b_rows[k * N + j];
        c_i[j] = p.alpha * s;
      }
    } else {
      for (i64 j = 0; j < N; ++j) {
        T s = a_i[0] * b_rows[j];
        for (int k = 1; k < KK; ++k) s += a_i[k] * b_rows[k * N + j];
        c_i[j] = p.alpha * s + p.beta * c_i[j];
      }
    }
  }
}

template <class T>
void rows_small_k_any(const SmallProduct<T>& p, const T* b_rows, i64 i0, i64 i1) {
  switch (p.K) {
    case 1: return rows_small_k<1>(p, b_rows, i0, i1);
    case 2: return rows_small_k<2>(p, b_rows, i0, i1);
    case 3: return rows_small_k<3>(p, b_rows, i0, i1);
    case 4: return rows_small_k<4>(p, b_rows, i0, i1);
    case 5: return rows_small_k<5>(p, b_rows, i0, i1);
    case 6: return rows_small_k<6>(p, b_rows, i0, i1);
    case 7: return rows_small_k<7>(p, b_rows, i0, i1);
    default: return rows_small_k<8>(p, b_rows, i0, i1);
  }
}

// Rows [i0, i1) when N = NN <= kSmallN, A not transposed: each c(i, j) is a dot product of
// row i of A with column j of op(B), held as row j of b_cols (N x K, contiguous). Each dot
// product runs in L interleaved partial sums (lane l takes k = l, l + L, ...) added in a
// fixed tree, plus the K % L last products: an order that never changes. Plain scalar
// code: GCC's vectorisation of this loop nest spills every accumulator (300x100x3 took 66
// us vectorised, 34 us scalar); the AVX2 build uses the intrinsics version below (8.7 us).
template <int NN, class T>
__attribute__((optimize("no-tree-vectorize"))) void rows_small_n(const SmallProduct<T>& p,
                                                                 const T* b_cols, i64 i0,
                                                                 i64 i1) {
  constexpr int L = 4;
  const i64 K = p.K, K_full = K / L * L;
  for (i64 i = i0; i < i1; ++i) {
    const T* __restrict a_i = p.a + i * p.lda;
    // Only compile-time indices into acc, so it stays in registers.
    T acc[NN][L] = {};
    for (i64 k = 0; k < K_full; k += L)
      for (int j = 0; j < NN; ++j)
        for (int l = 0; l < L; ++l) acc[j][l] += a_i[k + l] * b_cols[j * K + k + l];
    for (int j = 0; j < NN; ++j) {
      T tail = 0;  // k in [K_full, K), after the lanes
      for (i64 k = K_full; k < K; ++k) tail += a_i[k] * b_cols[j * K + k];
      for (int width = L / 2; width > 0; width /= 2)
        for (int l = 0; l < width; ++l) acc[j][l] += acc[j][l + width];
      store(p, p.c + i * p.ldc + j, acc[j][0] + tail);
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// The AVX2 build of rows_small_n for float, written with intrinsics (the compiler's own
// vectorisation of the loops above spills the accumulators): one ymm per column of C,
// lanes added as (l, l + 4), then (l, l + 2), then (l, l + 1).
template <int NN>
void rows_small_n_f32_avx2(const SmallProduct<float>& p, const float* b_cols, i64 i0, i64 i1) {
  const i64 K = p.K, K_full = K / 8 * 8;
  for (i64 i = i0; i < i1; ++i) {
    const float* a_i = p.a + i * p.lda;
    __m256 acc[NN];
    for (int j = 0; j < NN; ++j) acc[j] = _mm256_setzero_ps();
    for (i64 k = 0; k < K_full; k += 8) {
      const __m256 a = _mm256_loadu_ps(a_i + k);
      for (int j = 0; j < NN; ++j)
        acc[j] = _mm256_fmadd_ps(a, _mm256_loadu_ps(b_cols + j * K + k), acc[j]);
    }
    for (int j = 0; j < NN; ++j) {
      float tail = 0;
      for (i64 k = K_full; k < K; ++k) tail += a_i[k] * b_cols[j * K + k];
      const __m128 s4 =
          _mm_add_ps(_mm256_castps256_ps128(acc[j]), _mm256_extractf128_ps(acc[j], 1));
      const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
      store(p, p.c + i * p.ldc + j, _mm_cvtss_f32(s1) + tail);
    }
  }
}
#endif

template <class T>
void rows_small_n_any(const SmallProduct<T>& p, const T* b_cols, i64 i0, i64 i1) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    switch (p.N) {
      case 1: return rows_small_n_f32_avx2<1>(p, b_cols, i0, i1);
      case 2: return rows_small_n_f32_avx2<2>(p, b_cols, i0, i1);
      case 3: return rows_small_n_f32_avx2<3>(p, b_cols, i0, i1);
      default: return rows_small_n_f32_avx2<4>(p, b_cols, i0, i1);
    }
  }
#endif
  switch (p.N) {
    case 1: return rows_small_n<1>(p, b_cols, i0, i1);
    case 2: return rows_small_n<2>(p, b_cols, i0, i1);
    case 3: return rows_small_n<3>(p, b_cols, i0, i1);
    default: return rows_small_n<4>(p, b_cols, i0, i1);
  }
}

// Rows [i0, i1) when N <= kSmallN, A transposed (stored K x M): the sums run down k for a
// block of rows at once, vectorised along i (contiguous in each row of the stored A).
template <class T>
void rows_small_n_trans_a(const SmallProduct<T>& p, const T* b_cols, i64 i0, i64 i1) {
  constexpr i64 kBlock = 256;
  T acc[kSmallN][kBlock];
  for (i64 ib = i0; ib < i1; ib += kBlock) {
    const i64 rows = std::min(kBlock, i1 - ib);
    for (i64 j = 0; j < p.N; ++j) std::fill(acc[j], acc[j] + rows, T(0));
    for (i64 k = 0; k < p.K; ++k) {
      const T* __restrict a_k = p.a + k * p.lda + ib;
      for (i64 j = 0; j < p.N; ++j) {
        const T b_kj = b_cols[j * p.K + k];
        T* __restrict acc_j = acc[j];
        for (i64 r = 0; r < rows; ++r) acc_j[r] += a_k[r] * b_kj;
      }
    }
    for (i64 r = 0; r < rows; ++r)
      for (i64 j = 0; j < p.N; ++j) store(p, p.c + (ib + r) * p.ldc + j, acc[j][r]);
  }
}

}  // namespace small_detail

template <class T>
void small_gemm(const SmallProduct<T>& p) {
  using namespace small_detail;
  // op(B) copied once into the layout the loops read: rows (K x N) or columns (N x K).
  const bool by_k = p.N > kSmallN;
  thread_local std::vector<T> b_copy;
  b_copy.resize(static_cast<std::size_t>(p.K * p.N));
  for (i64 k = 0; k < p.K; ++k)
    for (i64 j = 0; j < p.N; ++j) b_copy[by_k ? k * p.N + j : j * p.K + k] = op_b(p, k, j);
  const T* b = b_copy.data();

  const int nt = threads_for(2.0 * double(p.M) * double(p.N) * double(p.K), 2.0e6);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), nth = omp_get_num_threads();
    const i64 i0 = p.M * t / nth, i1 = p.M * (t + 1) / nth;
    if (by_k) {
      rows_small_k_any(p, b, i0, i1);
    } else if (p.trans_a) {
      rows_small_n_trans_a(p, b, i0, i1);
    } else {
      rows_small_n_any(p, b, i0, i1);
    }
  }
  // A one-off large product does not keep its copy of B for the life of the thread.
  if (b_copy.capacity() > (std::size_t{1} << 18)) std::vector<T>().swap(b_copy);
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels
