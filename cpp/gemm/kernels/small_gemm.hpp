// Whole products too small for the blocked framework: K <= kSmallK, N <= kSmallN or
// M <= kSmallM, where packing and per-tile set-up cost more than the arithmetic (a
// 2-feature input layer, an output layer with 3 classes, the weight gradient of a
// 2-feature layer), and for float32 with AVX2 N <= kSmallNWide (an output layer with 10
// classes; see is_small in gemm.cpp). Compiled once per ISA (gemm/small_gemm.cpp for
// baseline x86-64, kernels/avx2/small_gemm_avx2.cpp with AVX2; each in its own inline
// namespace, runtime/isa_tag.hpp): float in the AVX2 build runs the intrinsics loops,
// everything else the plain loops, which vectorise with the unit's instructions.
//
// Each element of C sums its K products in index order (or, for the dot products of
// the small-N cases with A not transposed, in fixed interleaved lanes), then
// C := alpha * sum (+ the row's bias, for gemm_bias) + beta * C, and with relu max(C, 0).
// Threads take whole rows (whole 16-column blocks when M is small), and an element is
// computed the same way wherever its block starts, so results do not depend on the
// thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>

#include "runtime/kernels/avx2/lanes.hpp"
#endif

#include "gemm/kernels/kernels.hpp"
#include "runtime/isa_tag.hpp"
#include "runtime/threads.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

using i64 = std::int64_t;

// op(B) as the loops read it: element (k, j) at data[k * rs + j * cs]. Either B itself or
// a copy, so that the loop's inner index is contiguous.
template <class T>
struct MatView {
  const T* data;
  i64 rs, cs;
};

template <class T>
T op_a(const SmallProduct<T>& p, i64 i, i64 k) {
  return p.trans_a ? p.a[k * p.lda + i] : p.a[i * p.lda + k];
}

// C(i, j) := alpha * sum + bias[j] + beta * C(i, j) (no bias term when bias is null), then
// max(C(i, j), 0) with relu; the scalars already read out of the product.
template <class T>
struct Output {
  T alpha, beta;
  const T* bias;
  bool relu;
  static Output of(const SmallProduct<T>& p) { return {p.alpha, p.beta, p.bias, p.relu}; }
  // x < 0 ? 0 : x lets NaN through, as np.maximum(x, 0) and ops' relu_forward do.
  T activate(T v) const { return relu && v < T(0) ? T(0) : v; }
  void store(T* c, T sum, i64 j) const {
    T v = alpha * sum;
    if (bias != nullptr) v += bias[j];
    *c = activate(beta == T(0) ? v : v + beta * *c);
  }
};

// --- plain loops (any ISA, any precision) --------------------------------------------

// Rows [i0, i1) when K <= kSmallK: c(i, :) = sum_k a(i, k) * b(k, :), along the row
// (b rows contiguous: cs == 1).
template <int KK, class T>
void rows_small_k(const SmallProduct<T>& p, MatView<T> b, i64 i0, i64 i1) {
  const Output<T> out = Output<T>::of(p);
  const i64 N = p.N;
  for (i64 i = i0; i < i1; ++i) {
    T a_i[KK];
    for (int k = 0; k < KK; ++k) a_i[k] = op_a(p, i, k);
    T* __restrict c_i = p.c + i * p.ldc;
    for (i64 j = 0; j < N; ++j) {
      T s = a_i[0] * b.data[j];
      for (int k = 1; k < KK; ++k) s += a_i[k] * b.data[k * b.rs + j];
      out.store(c_i + j, s, j);
    }
  }
}

// Rows [i0, i1) when N <= kSmallN and A is not transposed: each c(i, j) is a dot product
// of row i of A with column j of op(B) (b columns contiguous: rs == 1), in L interleaved
// partial sums (lane l takes k = l, l + L, ...) added in a fixed tree, plus the K % L
// last products. Scalar code: GCC's vectorisation of this nest spills every accumulator.
#if defined(__GNUC__) && !defined(__clang__)
#define FASTBP_NO_TREE_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define FASTBP_NO_TREE_VECTORIZE  // clang has no per-function optimize attribute
#endif
template <int NN, class T>
FASTBP_NO_TREE_VECTORIZE void rows_small_n(const SmallProduct<T>& p, MatView<T> b, i64 i0,
                                           i64 i1) {
  constexpr int L = 4;
  const Output<T> out = Output<T>::of(p);
  const i64 K = p.K, K_full = K / L * L;
  for (i64 i = i0; i < i1; ++i) {
    const T* __restrict a_i = p.a + i * p.lda;
    T acc[NN][L] = {};  // only compile-time indices, so it stays in registers
    for (i64 k = 0; k < K_full; k += L)
      for (int j = 0; j < NN; ++j)
        for (int l = 0; l < L; ++l) acc[j][l] += a_i[k + l] * b.data[j * b.cs + k + l];
    for (int j = 0; j < NN; ++j) {
      T tail = 0;
      for (i64 k = K_full; k < K; ++k) tail += a_i[k] * b.data[j * b.cs + k];
      for (int width = L / 2; width > 0; width /= 2)
        for (int l = 0; l < width; ++l) acc[j][l] += acc[j][l + width];
      out.store(p.c + i * p.ldc + j, acc[j][0] + tail, j);
    }
  }
}

// Rows [i0, i1) when N <= kSmallN and A is transposed (stored K x M): the sums run down
// k for a block of rows at once, along i (contiguous in each row of the stored A).
template <class T>
void rows_small_n_trans_a(const SmallProduct<T>& p, MatView<T> b, i64 i0, i64 i1) {
  constexpr i64 kBlock = 256;
  const Output<T> out = Output<T>::of(p);
  T acc[kSmallN][kBlock];
  for (i64 ib = i0; ib < i1; ib += kBlock) {
    const i64 rows = std::min(kBlock, i1 - ib);
    for (i64 j = 0; j < p.N; ++j) std::fill(acc[j], acc[j] + rows, T(0));
    for (i64 k = 0; k < p.K; ++k) {
      const T* __restrict a_k = p.a + k * p.lda + ib;
      for (i64 j = 0; j < p.N; ++j) {
        const T b_kj = b.data[j * b.cs + k];
        T* __restrict acc_j = acc[j];
        for (i64 r = 0; r < rows; ++r) acc_j[r] += a_k[r] * b_kj;
      }
    }
    for (i64 r = 0; r < rows; ++r)
      for (i64 j = 0; j < p.N; ++j) out.store(p.c + (ib + r) * p.ldc + j, acc[j][r], j);
  }
}

// Columns [j0, j1) when M <= kSmallM: c(:, j) = sum_k a(:, k) * b(k, j), along the row
// (b rows contiguous: cs == 1), a block of columns at a time.
template <class T>
void cols_small_m(const SmallProduct<T>& p, MatView<T> b, i64 j0, i64 j1) {
  constexpr i64 kBlock = 256;
  const Output<T> out = Output<T>::of(p);
  T acc[kSmallM][kBlock];
  for (i64 jb = j0; jb < j1; jb += kBlock) {
    const i64 cols = std::min(kBlock, j1 - jb);
    for (i64 i = 0; i < p.M; ++i) std::fill(acc[i], acc[i] + cols, T(0));
    for (i64 k = 0; k < p.K; ++k) {
      const T* __restrict b_k = b.data + k * b.rs + jb;
      for (i64 i = 0; i < p.M; ++i) {
        const T a_ik = op_a(p, i, k);
        T* __restrict acc_i = acc[i];
        for (i64 c = 0; c < cols; ++c) acc_i[c] += a_ik * b_k[c];
      }
    }
    for (i64 i = 0; i < p.M; ++i)
      for (i64 c = 0; c < cols; ++c) out.store(p.c + i * p.ldc + jb + c, acc[i][c], jb + c);
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// --- AVX2 float loops: the same sums, in registers -----------------------------------

using ::fastbp::avx2::first_lanes;

inline __m256 load_lanes(const float* p, i64 w) {
  return w == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes(w));
}

// max(v, 0) per lane with relu: _mm256_max_ps returns its second operand when either is
// NaN or both are zeros, so NaN and -0 pass as in Output::activate.
inline __m256 activate_lanes(const Output<float>& out, __m256 v) {
  return out.relu ? _mm256_max_ps(_mm256_setzero_ps(), v) : v;
}

// C[0:w] := alpha * s + bias[j:j + w] + beta * C[0:w] (then the ReLU) for the first w lanes
// of s (all 8 when w == 8); c points at column j of its row.
inline void store_lanes(const Output<float>& out, float* c, __m256 s, i64 j, i64 w) {
  __m256 scaled = _mm256_mul_ps(_mm256_set1_ps(out.alpha), s);
  if (out.bias != nullptr) scaled = _mm256_add_ps(scaled, load_lanes(out.bias + j, w));
  if (w == 8) {
    _mm256_storeu_ps(c, activate_lanes(out, out.beta == 0.0f
                                                ? scaled
                                                : _mm256_fmadd_ps(_mm256_set1_ps(out.beta),
                                                                  _mm256_loadu_ps(c), scaled)));
    return;
  }
  const __m256i m = first_lanes(w);
  _mm256_maskstore_ps(c, m, activate_lanes(out, out.beta == 0.0f
                                                    ? scaled
                                                    : _mm256_fmadd_ps(_mm256_set1_ps(out.beta),
                                                                      _mm256_maskload_ps(c, m),
                                                                      scaled)));
}

// The scalar twin of one lane of store_lanes (the same fused operations).
inline void store_scalar(const Output<float>& out, float* c, float s, i64 j) {
  float v = out.alpha * s;
  if (out.bias != nullptr) v += out.bias[j];
  *c = out.activate(out.beta == 0.0f ? v : std::fma(out.beta, *c, v));
}

// The last N % 8 columns of each row are summed in scalar fused operations, the same as
// the vector lanes (masked stores are slow on AMD cores).
template <int KK>
void rows_small_k_f32(const SmallProduct<float>& p, MatView<float> b, i64 i0, i64 i1) {
  const Output<float> out = Output<float>::of(p);
  const i64 N = p.N, N_vec = N / 8 * 8;
  for (i64 i = i0; i < i1; ++i) {
    float a_i[KK];
    __m256 va_i[KK];
    for (int k = 0; k < KK; ++k) a_i[k] = op_a(p, i, k), va_i[k] = _mm256_set1_ps(a_i[k]);
    float* c_i = p.c + i * p.ldc;
    for (i64 j = 0; j < N_vec; j += 8) {
      __m256 s = _mm256_mul_ps(va_i[0], _mm256_loadu_ps(b.data + j));
      for (int k = 1; k < KK; ++k)
        s = _mm256_fmadd_ps(va_i[k], _mm256_loadu_ps(b.data + k * b.rs + j), s);
      store_lanes(out, c_i + j, s, j, 8);
    }
    for (i64 j = N_vec; j < N; ++j) {
      float s = a_i[0] * b.data[j];
      for (int k = 1; k < KK; ++k) s = std::fma(a_i[k], b.data[k * b.rs + j], s);
      store_scalar(out, c_i + j, s, j);
    }
  }
}

// Sums of the 8 lanes of each of v[0..7] as {sums of v[0..3]} and {sums of v[4..7]}.
inline void lane_sums8(const __m256 v[8], __m128& lo, __m128& hi) {
  const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  lo = _mm_add_ps(_mm256_castps256_ps128(g0), _mm256_extractf128_ps(g0, 1));
  hi = _mm_add_ps(_mm256_castps256_ps128(g1), _mm256_extractf128_ps(g1, 1));
}

// C(i : i + R, j0 : j0 + G), A not transposed: dot products of rows of A with columns of
// op(B). Lane l of each accumulator takes k = l, l + 8, ... (the last K % 8 by masked
// loads), then lane_sums8 adds the lanes in one fixed tree for every slot, so an element's
// value does not depend on R, G or its block. R * G <= 12 accumulators stay in registers.
template <int R, int G>
void dot_block_f32(const SmallProduct<float>& p, MatView<float> b, const Output<float>& out,
                   i64 i, i64 j0) {
  constexpr int n = R * G;
  __m256 acc[n];
#pragma GCC unroll 12
  for (int q = 0; q < n; ++q) acc[q] = _mm256_setzero_ps();  // unrolled, not a memset
  const float* a_i = p.a + i * p.lda;
  const float* b_g = b.data + j0 * b.cs;
  const i64 K = p.K, K_vec = K / 8 * 8, lda = p.lda, cs = b.cs;
  const auto step = [&](i64 k, auto load) {
    __m256 a[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a[r] = load(a_i + r * lda + k);
#pragma GCC unroll 12
    for (int j = 0; j < G; ++j) {
      const __m256 bj = load(b_g + j * cs + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r * G + j] = _mm256_fmadd_ps(a[r], bj, acc[r * G + j]);
    }
  };
  for (i64 k = 0; k < K_vec; k += 8) step(k, [](const float* x) { return _mm256_loadu_ps(x); });
  if (K_vec < K) {
    const __m256i mask = first_lanes(K - K_vec);
    step(K_vec, [mask](const float* x) { return _mm256_maskload_ps(x, mask); });
  }
  alignas(16) float sums[16];
#pragma GCC unroll 2
  for (int q = 0; q < n; q += 8) {
    __m256 v[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) v[t] = q + t < n ? acc[q + t] : _mm256_setzero_ps();
    __m128 lo, hi;
    lane_sums8(v, lo, hi);
    _mm_store_ps(sums + q, lo);
    _mm_store_ps(sums + q + 4, hi);
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < G; ++j)
      out.store(p.c + (i + r) * p.ldc + j0 + j, sums[r * G + j], j0 + j);
}

// C(ib : ib + rows, j0 : j0 + G), A transposed (stored K x M): 8 * V rows of C in V ymm
// per column (rows < 8 * V by masked loads unless kFull), summed down k.
template <int G, int V, bool kFull>
void trans_a_block_f32(const SmallProduct<float>& p, MatView<float> b, const Output<float>& out,
                       i64 ib, i64 rows, i64 j0) {
  __m256i mask[V];
  for (int v = 0; v < V; ++v) mask[v] = first_lanes(std::clamp<i64>(rows - 8 * v, 0, 8));
  __m256 acc[G * V];
#pragma GCC unroll 12
  for (int q = 0; q < G * V; ++q) acc[q] = _mm256_setzero_ps();  // unrolled, not a memset
  const float* a_k = p.a + ib;
  const float* b_g = b.data + j0 * b.cs;
  const i64 K = p.K, lda = p.lda;
  for (i64 k = 0; k < K; ++k, a_k += lda) {
    __m256 a[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v)
      a[v] = kFull ? _mm256_loadu_ps(a_k + 8 * v) : _mm256_maskload_ps(a_k + 8 * v, mask[v]);
#pragma GCC unroll 12
    for (int j = 0; j < G; ++j) {
      const __m256 bj = _mm256_broadcast_ss(b_g + j * b.cs + k);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[j * V + v] = _mm256_fmadd_ps(a[v], bj, acc[j * V + v]);
    }
  }
  alignas(32) float sums[G][8 * V];
#pragma GCC unroll 12
  for (int j = 0; j < G; ++j)
    for (int v = 0; v < V; ++v) _mm256_store_ps(sums[j] + 8 * v, acc[j * V + v]);
  for (i64 r = 0; r < rows; ++r)
    for (int j = 0; j < G; ++j) out.store(p.c + (ib + r) * p.ldc + j0 + j, sums[j][r], j0 + j);
}

// Rows [i0, i1) when N = NN <= kSmallN: two rows at a time, or 16 rows with A transposed.
template <int NN>
void rows_small_n_f32(const SmallProduct<float>& p, MatView<float> b, i64 i0, i64 i1) {
  const Output<float> out = Output<float>::of(p);
  if (p.trans_a) {
    for (i64 ib = i0; ib < i1; ib += 16) {
      const i64 rows = std::min<i64>(16, i1 - ib);
      if (rows == 16) {
        trans_a_block_f32<NN, 2, true>(p, b, out, ib, rows, 0);
      } else {
        trans_a_block_f32<NN, 2, false>(p, b, out, ib, rows, 0);
      }
    }
    return;
  }
  i64 i = i0;
  for (; i + 2 <= i1; i += 2) dot_block_f32<2, NN>(p, b, out, i, 0);
  if (i < i1) dot_block_f32<1, NN>(p, b, out, i, 0);
}

// The column groups of one row (or one block of 8 rows, A transposed) when
// kSmallN < N <= kSmallNWide: N <= 12 in one, else two of ceil(N / 2) and floor(N / 2);
// so 5 to 12 columns each.
template <class Group>
void for_column_groups(i64 N, const Group& group) {
  const i64 first = N <= 12 ? N : (N + 1) / 2;
  group(0, first);
  if (first < N) group(first, N - first);
}

// fn(std::integral_constant<int, g>{}) for a group width g in 5..12.
template <class Fn>
void with_group_width(i64 g, const Fn& fn) {
  switch (g) {
    case 5: return fn(std::integral_constant<int, 5>{});
    case 6: return fn(std::integral_constant<int, 6>{});
    case 7: return fn(std::integral_constant<int, 7>{});
    case 8: return fn(std::integral_constant<int, 8>{});
    case 9: return fn(std::integral_constant<int, 9>{});
    case 10: return fn(std::integral_constant<int, 10>{});
    case 11: return fn(std::integral_constant<int, 11>{});
    default: return fn(std::integral_constant<int, 12>{});
  }
}

// Rows [i0, i1) for kSmallN < N <= kSmallNWide (an output layer of 10 classes): one row (8
// rows, A transposed) and one column group at a time.
inline void rows_wide_n_f32(const SmallProduct<float>& p, MatView<float> b, i64 i0, i64 i1) {
  const Output<float> out = Output<float>::of(p);
  const i64 step = p.trans_a ? 8 : 1;
  for (i64 i = i0; i < i1; i += step) {
    const i64 rows = std::min<i64>(step, i1 - i);
    for_column_groups(p.N, [&](i64 j0, i64 g) {
      with_group_width(g, [&](auto G) {
        if (!p.trans_a) return dot_block_f32<1, G.value>(p, b, out, i, j0);
        if (rows == 8) return trans_a_block_f32<G.value, 1, true>(p, b, out, i, rows, j0);
        trans_a_block_f32<G.value, 1, false>(p, b, out, i, rows, j0);
      });
    });
  }
}

// Columns [jb, jb + 8 * NV) of C when M = MM <= kSmallM, summed down k: NV ymm of columns
// per row. kFull: all 8 * NV columns; else NV == 1 and the first w (< 8) by masked loads.
// Compile-time shapes keep the MM * NV accumulators in registers.
template <int MM, int NV, bool kFull>
void cols_block_f32(const SmallProduct<float>& p, MatView<float> b, const Output<float>& out,
                    i64 jb, i64 w) {
  static_assert(kFull || NV == 1);
  const i64 rs_a = p.trans_a ? 1 : p.lda, cs_a = p.trans_a ? p.lda : 1;  // a(i, k) stride
  const __m256i mask = first_lanes(kFull ? 8 : w);
  __m256 acc[MM][NV];
  for (auto& row : acc)
    for (auto& x : row) x = _mm256_setzero_ps();
  const float* a_k = p.a;
  const float* b_k = b.data + jb;
  for (i64 k = 0; k < p.K; ++k, a_k += cs_a, b_k += b.rs) {
    __m256 bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = kFull ? _mm256_loadu_ps(b_k + 8 * v) : _mm256_maskload_ps(b_k, mask);
    for (int i = 0; i < MM; ++i) {
      const __m256 a_ik = _mm256_broadcast_ss(a_k + i * rs_a);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(a_ik, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MM; ++i)
    for (int v = 0; v < NV; ++v)
      store_lanes(out, p.c + i * p.ldc + jb + 8 * v, acc[i][v], jb + 8 * v, kFull ? 8 : w);
}

// Columns [j0, j1) when M = MM: blocks of 8 * NV columns, then of 8, then the last few.
// Every column sees the same operations in any block, so results do not depend on j0.
template <int MM, int NV>
void cols_small_m_f32(const SmallProduct<float>& p, MatView<float> b, i64 j0, i64 j1) {
  const Output<float> out = Output<float>::of(p);
  i64 jb = j0;
  for (; jb + 8 * NV <= j1; jb += 8 * NV) cols_block_f32<MM, NV, true>(p, b, out, jb, 8 * NV);
  for (; jb + 8 <= j1; jb += 8) cols_block_f32<MM, 1, true>(p, b, out, jb, 8);
  if (jb < j1) cols_block_f32<MM, 1, false>(p, b, out, jb, j1 - jb);
}
#endif  // __AVX2__ && __FMA__

// --- dispatch on the compile-time sizes ----------------------------------------------

template <class T>
void rows_small_k_any(const SmallProduct<T>& p, MatView<T> b, i64 i0, i64 i1) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    switch (p.K) {
      case 1: return rows_small_k_f32<1>(p, b, i0, i1);
      case 2: return rows_small_k_f32<2>(p, b, i0, i1);
      case 3: return rows_small_k_f32<3>(p, b, i0, i1);
      case 4: return rows_small_k_f32<4>(p, b, i0, i1);
      case 5: return rows_small_k_f32<5>(p, b, i0, i1);
      case 6: return rows_small_k_f32<6>(p, b, i0, i1);
      case 7: return rows_small_k_f32<7>(p, b, i0, i1);
      default: return rows_small_k_f32<8>(p, b, i0, i1);
    }
  }
#endif
  switch (p.K) {
    case 1: return rows_small_k<1>(p, b, i0, i1);
    case 2: return rows_small_k<2>(p, b, i0, i1);
    case 3: return rows_small_k<3>(p, b, i0, i1);
    case 4: return rows_small_k<4>(p, b, i0, i1);
    case 5: return rows_small_k<5>(p, b, i0, i1);
    case 6: return rows_small_k<6>(p, b, i0, i1);
    case 7: return rows_small_k<7>(p, b, i0, i1);
    default: return rows_small_k<8>(p, b, i0, i1);
  }
}

template <class T>
void rows_small_n_any(const SmallProduct<T>& p, MatView<T> b, i64 i0, i64 i1) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    if (p.N > kSmallN) return rows_wide_n_f32(p, b, i0, i1);
    switch (p.N) {
      case 1: return rows_small_n_f32<1>(p, b, i0, i1);
      case 2: return rows_small_n_f32<2>(p, b, i0, i1);
      case 3: return rows_small_n_f32<3>(p, b, i0, i1);
      default: return rows_small_n_f32<4>(p, b, i0, i1);
    }
  }
#endif
  // N <= kSmallN here: wider N reaches only the float32 AVX2 loops above (is_small).
  if (p.trans_a) return rows_small_n_trans_a(p, b, i0, i1);
  switch (p.N) {
    case 1: return rows_small_n<1>(p, b, i0, i1);
    case 2: return rows_small_n<2>(p, b, i0, i1);
    case 3: return rows_small_n<3>(p, b, i0, i1);
    default: return rows_small_n<4>(p, b, i0, i1);
  }
}

template <class T>
void cols_small_m_any(const SmallProduct<T>& p, MatView<T> b, i64 j0, i64 j1) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    switch (p.M) {  // four ymm of columns for one or two rows, two for three or four
      case 1: return cols_small_m_f32<1, 4>(p, b, j0, j1);
      case 2: return cols_small_m_f32<2, 4>(p, b, j0, j1);
      case 3: return cols_small_m_f32<3, 2>(p, b, j0, j1);
      default: return cols_small_m_f32<4, 2>(p, b, j0, j1);
    }
  }
#endif
  cols_small_m(p, b, j0, j1);
}

}  // namespace small_detail

template <class T>
void small_gemm(const SmallProduct<T>& p) {
  using namespace small_detail;
  // The loops read op(B) by columns (N small, or for float32 on AVX2 up to kSmallNWide when
  // neither K nor M is small) or by rows (K or M small). B is read in place when it is
  // stored that way, else copied once.
  const bool k_small = p.K <= kSmallK, m_small = p.M <= kSmallM && !p.trans_b;
  const bool by_columns = p.N <= kSmallN || (!k_small && !m_small);
  const bool in_place = by_columns == p.trans_b;
  thread_local std::vector<T> b_copy;
  MatView<T> b{p.b, p.trans_b ? 1 : p.ldb, p.trans_b ? p.ldb : 1};  // b(k, j) = op(B)(k, j)
  if (!in_place) {
    b_copy.resize(static_cast<std::size_t>(p.K * p.N));
    const MatView<T> copy{b_copy.data(), by_columns ? 1 : p.N, by_columns ? p.K : 1};
    for (i64 k = 0; k < p.K; ++k)
      for (i64 j = 0; j < p.N; ++j) b_copy[k * copy.rs + j * copy.cs] = b.data[k * b.rs + j * b.cs];
    b = copy;
  }
  // Threads share rows, or 16-column blocks when M is small (the others' cases).
  const bool by_m_small = !by_columns && !k_small;
  const i64 units = by_m_small ? (p.N + 15) / 16 : p.M;
  const int nt = threads_for(2.0 * double(p.M) * double(p.N) * double(p.K), 2.0e6);
  parallel_region(nt, [&](int t, int nth) {
    const i64 u0 = units * t / nth, u1 = units * (t + 1) / nth;
    if (by_columns) {
      rows_small_n_any(p, b, u0, u1);
    } else if (!by_m_small) {
      rows_small_k_any(p, b, u0, u1);
    } else {
      cols_small_m_any(p, b, u0 * 16, std::min(p.N, u1 * 16));
    }
  });
  // A one-off large product does not keep its copy of B for the life of the thread.
  if (b_copy.capacity() > (std::size_t{1} << 18)) std::vector<T>().swap(b_copy);
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels
