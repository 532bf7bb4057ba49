// The float32 small-product loops of small_gemm.hpp written once over a vector type: each
// vector unit (gemm/kernels/<isa>/small_gemm_<isa>.cpp) defines its vectors S and hands
// SimdLoops<S> to small_gemm<V, float>. No intrinsic is named here; the code is compiled
// with the including unit's flags, inside its inline namespace (runtime/isa_tag.hpp).
//
// S, one ISA's float vectors (every member static):
//   Vec, Mask                  a vector of kLanes floats; a lane mask
//   kLanes                     the floats in one vector
//   kScalarTails               rows_small_k's last N % kLanes columns in scalar fused
//                              operations (true) or one masked vector (false): the same
//                              arithmetic per element either way
//   zero(), set1(x), broadcast(const float* x)
//   loadu(p), storeu(p, v), store_aligned(p, v)     (store_aligned: p kLanes * 4-aligned)
//   first(w)                   the mask of the first w lanes, 0 <= w <= kLanes
//   load(p, m), store(p, m, v) masked: lanes outside m read as 0 and never touched
//   mul(a, b), add(a, b), fmadd(a, b, c)            a * b + c rounded once
//   max0(v)                    max(0, v) per lane, NaN and -0 passed as Output::activate
//   sums8(const Vec v[8], float out[8])  out[t] = the sum of v[t]'s lanes, in one fixed tree
//                              for every t (the dot products' lane order, which each ISA
//                              documents with its vectors)
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "gemm/kernels/small_gemm.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

template <class S>
typename S::Vec load_lanes(const float* p, i64 w) {
  return w == S::kLanes ? S::loadu(p) : S::load(p, S::first(w));
}

template <class S, class Out>
typename S::Vec activate_lanes(const Out& out, typename S::Vec v) {
  return out.has_relu() ? S::max0(v) : v;
}

// C[0:w] := alpha * s + bias[j:j + w] + beta * C[0:w] (then the ReLU) for the first w lanes
// of s (all of them when w == kLanes), the terms out's case has; c points at column j of its
// row.
template <class S, class Out>
void store_lanes(const Out& out, float* c, typename S::Vec s, i64 j, i64 w) {
  typename S::Vec v = Out::kScale ? S::mul(S::set1(out.alpha), s) : s;
  if (out.has_bias()) v = S::add(v, load_lanes<S>(out.bias + j, w));
  if (w == S::kLanes) {
    if (out.has_beta()) v = S::fmadd(S::set1(out.beta), S::loadu(c), v);
    S::storeu(c, activate_lanes<S>(out, v));
    return;
  }
  const typename S::Mask m = S::first(w);
  if (out.has_beta()) v = S::fmadd(S::set1(out.beta), S::load(c, m), v);
  S::store(c, m, activate_lanes<S>(out, v));
}

// The scalar twin of one lane of store_lanes (the same fused operations).
template <class Out>
void store_scalar(const Out& out, float* c, float s, i64 j) {
  float v = out.scale(s);
  if (out.has_bias()) v += out.bias[j];
  *c = out.activate(out.has_beta() ? std::fma(out.beta, *c, v) : v);
}

// Rows [i0, i1) when K = KK <= kSmallK: c(i, j) = a(i, 0) * b(0, j), then one fused
// multiply-add per k, in vectors along the row; the last N % kLanes columns as
// S::kScalarTails says (the same operations).
template <class S, int KK, class Out>
void rows_small_k_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 i0,
                      i64 i1) {
  using Vec = typename S::Vec;
  constexpr i64 L = S::kLanes;
  const i64 N = p.N, N_vec = N / L * L;
  for (i64 i = i0; i < i1; ++i) {
    float a_i[KK];
    Vec va_i[KK];
    for (int k = 0; k < KK; ++k) a_i[k] = op_a(p, i, k), va_i[k] = S::set1(a_i[k]);
    float* c_i = p.c + i * p.ldc;
    for (i64 j = 0; j < N_vec; j += L) {
      Vec s = S::mul(va_i[0], S::loadu(b.data + j));
      for (int k = 1; k < KK; ++k) s = S::fmadd(va_i[k], S::loadu(b.data + k * b.rs + j), s);
      store_lanes<S>(out, c_i + j, s, j, L);
    }
    if constexpr (S::kScalarTails) {
      for (i64 j = N_vec; j < N; ++j) {
        float s = a_i[0] * b.data[j];
        for (int k = 1; k < KK; ++k) s = std::fma(a_i[k], b.data[k * b.rs + j], s);
        store_scalar(out, c_i + j, s, j);
      }
    } else if (N_vec < N) {
      const typename S::Mask m = S::first(N - N_vec);
      Vec s = S::mul(va_i[0], S::load(b.data + N_vec, m));
      for (int k = 1; k < KK; ++k) s = S::fmadd(va_i[k], S::load(b.data + k * b.rs + N_vec, m), s);
      store_lanes<S>(out, c_i + N_vec, s, N_vec, N - N_vec);
    }
  }
}

// sums[r * G + j] := the dot product of row i + r of A (not transposed) with column j0 + j of
// op(B). Lane l of each accumulator takes k = l, l + kLanes, ... (the last K % kLanes by
// masked loads), then S::sums8 adds the lanes in one fixed tree for every slot, so an
// element's value does not depend on R, G or its block. R * G <= 12 accumulators stay in
// registers. Not a template over the Output: one copy of the k loop serves every store case.
template <class S, int R, int G>
void dot_sums_f32(const SmallProduct<float>& p, MatView<float> b, i64 i, i64 j0, float* sums) {
  using Vec = typename S::Vec;
  constexpr i64 L = S::kLanes;
  constexpr int n = R * G;
  Vec acc[n];
#pragma GCC unroll 12
  for (int q = 0; q < n; ++q) acc[q] = S::zero();  // unrolled, not a memset
  const float* a_i = p.a + i * p.lda;
  const float* b_g = b.data + j0 * b.cs;
  const i64 K = p.K, K_vec = K / L * L, lda = p.lda, cs = b.cs;
  const auto step = [&](i64 k, auto load) {
    Vec a[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a[r] = load(a_i + r * lda + k);
#pragma GCC unroll 12
    for (int j = 0; j < G; ++j) {
      const Vec bj = load(b_g + j * cs + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r * G + j] = S::fmadd(a[r], bj, acc[r * G + j]);
    }
  };
  for (i64 k = 0; k < K_vec; k += L) step(k, [](const float* x) { return S::loadu(x); });
  if (K_vec < K) {
    const typename S::Mask mask = S::first(K - K_vec);
    step(K_vec, [mask](const float* x) { return S::load(x, mask); });
  }
#pragma GCC unroll 2
  for (int q = 0; q < n; q += 8) {
    Vec v[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) v[t] = q + t < n ? acc[q + t] : S::zero();
    S::sums8(v, sums + q);
  }
}

// C(i : i + R, j0 : j0 + G), A not transposed: the dot products of dot_sums_f32, stored.
template <class S, int R, int G, class Out>
void dot_block_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 i,
                   i64 j0) {
  alignas(64) float sums[16];  // R * G <= 12, rounded up to whole groups of 8
  dot_sums_f32<S, R, G>(p, b, i, j0, sums);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < G; ++j)
      out.store(p.c + (i + r) * p.ldc + j0 + j, sums[r * G + j], j0 + j);
}

// sums[j * kLanes * V + r] := C(ib + r, j0 + j)'s sum for r < rows, A transposed (stored
// K x M): kLanes * V rows of C in V vectors per column (rows < kLanes * V by masked loads
// unless kFull), summed down k. Not a template over the Output, like dot_sums_f32.
template <class S, int G, int V, bool kFull>
void trans_a_sums_f32(const SmallProduct<float>& p, MatView<float> b, i64 ib, i64 rows, i64 j0,
                      float* sums) {
  using Vec = typename S::Vec;
  constexpr i64 L = S::kLanes;
  typename S::Mask mask[V];
  for (int v = 0; v < V; ++v) mask[v] = S::first(std::clamp<i64>(rows - L * v, 0, L));
  Vec acc[G * V];
#pragma GCC unroll 12
  for (int q = 0; q < G * V; ++q) acc[q] = S::zero();  // unrolled, not a memset
  const float* a_k = p.a + ib;
  const float* b_g = b.data + j0 * b.cs;
  const i64 K = p.K, lda = p.lda;
  for (i64 k = 0; k < K; ++k, a_k += lda) {
    Vec a[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) a[v] = kFull ? S::loadu(a_k + L * v) : S::load(a_k + L * v, mask[v]);
#pragma GCC unroll 12
    for (int j = 0; j < G; ++j) {
      const Vec bj = S::broadcast(b_g + j * b.cs + k);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[j * V + v] = S::fmadd(a[v], bj, acc[j * V + v]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < G; ++j)
    for (int v = 0; v < V; ++v) S::store_aligned(sums + (j * V + v) * L, acc[j * V + v]);
}

// C(ib : ib + rows, j0 : j0 + G), A transposed: the sums of trans_a_sums_f32, stored.
template <class S, int G, int V, bool kFull, class Out>
void trans_a_block_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 ib,
                       i64 rows, i64 j0) {
  constexpr i64 L = S::kLanes;
  alignas(64) float sums[G][L * V];
  trans_a_sums_f32<S, G, V, kFull>(p, b, ib, rows, j0, sums[0]);
  for (i64 r = 0; r < rows; ++r)
    for (int j = 0; j < G; ++j) out.store(p.c + (ib + r) * p.ldc + j0 + j, sums[j][r], j0 + j);
}

// Rows [i0, i1) when N = NN <= kSmallN: two rows at a time, or 2 * kLanes rows with A
// transposed.
template <class S, int NN, class Out>
void rows_small_n_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 i0,
                      i64 i1) {
  constexpr i64 kRows = 2 * S::kLanes;
  if (p.trans_a) {
    for (i64 ib = i0; ib < i1; ib += kRows) {
      const i64 rows = std::min(kRows, i1 - ib);
      if (rows == kRows) {
        trans_a_block_f32<S, NN, 2, true>(p, b, out, ib, rows, 0);
      } else {
        trans_a_block_f32<S, NN, 2, false>(p, b, out, ib, rows, 0);
      }
    }
    return;
  }
  i64 i = i0;
  for (; i + 2 <= i1; i += 2) dot_block_f32<S, 2, NN>(p, b, out, i, 0);
  if (i < i1) dot_block_f32<S, 1, NN>(p, b, out, i, 0);
}

// The column groups of one row (or one block of kLanes rows, A transposed) when
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

// Rows [i0, i1) for kSmallN < N <= kSmallNWide (an output layer of 10 classes): one row
// (kLanes rows, A transposed) and one column group at a time.
template <class S, class Out>
void rows_wide_n_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 i0,
                     i64 i1) {
  const i64 step = p.trans_a ? S::kLanes : 1;
  for (i64 i = i0; i < i1; i += step) {
    const i64 rows = std::min<i64>(step, i1 - i);
    for_column_groups(p.N, [&](i64 j0, i64 g) {
      with_group_width(g, [&](auto G) {
        if (!p.trans_a) return dot_block_f32<S, 1, G.value>(p, b, out, i, j0);
        if (rows == S::kLanes) return trans_a_block_f32<S, G.value, 1, true>(p, b, out, i, rows, j0);
        trans_a_block_f32<S, G.value, 1, false>(p, b, out, i, rows, j0);
      });
    });
  }
}

// Columns [jb, jb + kLanes * NV) of C when M = MM <= kSmallM, summed down k: NV vectors of
// columns per row. kFull: all kLanes * NV columns; else NV == 1 and the first w (< kLanes)
// by masked loads. Compile-time shapes keep the MM * NV accumulators in registers.
template <class S, int MM, int NV, bool kFull, class Out>
void cols_block_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 jb,
                    i64 w) {
  static_assert(kFull || NV == 1);
  using Vec = typename S::Vec;
  constexpr i64 L = S::kLanes;
  const i64 rs_a = p.trans_a ? 1 : p.lda, cs_a = p.trans_a ? p.lda : 1;  // a(i, k) stride
  const typename S::Mask mask = S::first(kFull ? L : w);
  Vec acc[MM][NV];
  for (auto& row : acc)
    for (auto& x : row) x = S::zero();
  const float* a_k = p.a;
  const float* b_k = b.data + jb;
  for (i64 k = 0; k < p.K; ++k, a_k += cs_a, b_k += b.rs) {
    Vec bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = kFull ? S::loadu(b_k + L * v) : S::load(b_k, mask);
    for (int i = 0; i < MM; ++i) {
      const Vec a_ik = S::broadcast(a_k + i * rs_a);
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(a_ik, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MM; ++i)
    for (int v = 0; v < NV; ++v)
      store_lanes<S>(out, p.c + i * p.ldc + jb + L * v, acc[i][v], jb + L * v, kFull ? L : w);
}

// Columns [j0, j1) when M = MM: blocks of kLanes * NV columns, then of kLanes, then the last
// few. Every column sees the same operations in any block, so results do not depend on j0.
template <class S, int MM, int NV, class Out>
void cols_small_m_f32(const SmallProduct<float>& p, MatView<float> b, const Out& out, i64 j0,
                      i64 j1) {
  constexpr i64 L = S::kLanes;
  i64 jb = j0;
  for (; jb + L * NV <= j1; jb += L * NV) cols_block_f32<S, MM, NV, true>(p, b, out, jb, L * NV);
  for (; jb + L <= j1; jb += L) cols_block_f32<S, MM, 1, true>(p, b, out, jb, L);
  if (jb < j1) cols_block_f32<S, MM, 1, false>(p, b, out, jb, j1 - jb);
}

// The float loops small_gemm<V, float> runs (V of small_gemm.hpp), over S's vectors.
template <class S>
struct SimdLoops {
  static constexpr bool kFloat = true;

  template <class Out>
  static void rows_small_k(const SmallProduct<float>& p, MatView<float> b, const Out& out,
                           i64 i0, i64 i1) {
    switch (p.K) {
      case 1: return rows_small_k_f32<S, 1>(p, b, out, i0, i1);
      case 2: return rows_small_k_f32<S, 2>(p, b, out, i0, i1);
      case 3: return rows_small_k_f32<S, 3>(p, b, out, i0, i1);
      case 4: return rows_small_k_f32<S, 4>(p, b, out, i0, i1);
      case 5: return rows_small_k_f32<S, 5>(p, b, out, i0, i1);
      case 6: return rows_small_k_f32<S, 6>(p, b, out, i0, i1);
      case 7: return rows_small_k_f32<S, 7>(p, b, out, i0, i1);
      default: return rows_small_k_f32<S, 8>(p, b, out, i0, i1);
    }
  }

  template <class Out>
  static void rows_small_n(const SmallProduct<float>& p, MatView<float> b, const Out& out,
                           i64 i0, i64 i1) {
    if (p.N > kSmallN) return rows_wide_n_f32<S>(p, b, out, i0, i1);
    switch (p.N) {
      case 1: return rows_small_n_f32<S, 1>(p, b, out, i0, i1);
      case 2: return rows_small_n_f32<S, 2>(p, b, out, i0, i1);
      case 3: return rows_small_n_f32<S, 3>(p, b, out, i0, i1);
      default: return rows_small_n_f32<S, 4>(p, b, out, i0, i1);
    }
  }

  template <class Out>
  static void cols_small_m(const SmallProduct<float>& p, MatView<float> b, const Out& out,
                           i64 j0, i64 j1) {
    switch (p.M) {  // four vectors of columns for one or two rows, two for three or four
      case 1: return cols_small_m_f32<S, 1, 4>(p, b, out, j0, j1);
      case 2: return cols_small_m_f32<S, 2, 4>(p, b, out, j0, j1);
      case 3: return cols_small_m_f32<S, 3, 2>(p, b, out, j0, j1);
      default: return cols_small_m_f32<S, 4, 2>(p, b, out, j0, j1);
    }
  }
};

}  // namespace small_detail
}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels
