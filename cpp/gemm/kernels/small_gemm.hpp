// Whole products too small for the blocked framework: K <= kSmallK, N <= kSmallN or
// M <= kSmallM, where packing and per-tile set-up cost more than the arithmetic (a
// 2-feature input layer, an output layer with 3 classes, the weight gradient of a
// 2-feature layer), and for float32, where an ISA's loops take it, N <= kSmallNWide (an
// output layer with 10 classes; see is_small in gemm.cpp). Compiled once per ISA by
// gemm/kernels/<isa>/small_gemm_<isa>.cpp, each in its own inline namespace
// (runtime/isa_tag.hpp): the plain loops here vectorise with the unit's instructions, and a
// unit may hand small_gemm<V, T> its own float loops V (intrinsics) for T = float.
// The store's terms (alpha, bias, beta, ReLU) are resolved once per product (Store): the
// loops are compiled per case and test none of them per element.
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

// Which terms a product's store has, resolved once per product (with_output) so that the
// loops test none of them per element. Training's common cases get loops of their own and
// do what kGeneral does with their values, bit for bit: alpha * sum is sum when alpha == 1,
// and the terms they drop are the ones kGeneral skips (no bias, beta == 0, no ReLU).
enum class Store {
  kSum,         // alpha == 1, beta == 0, no bias, no ReLU: C := sum (a product into fresh C)
  kBias,        // alpha == 1, beta == 0, no ReLU: C := sum + bias (a linear layer)
  kBiasRelu,    // alpha == 1, beta == 0: C := max(sum + bias, 0) (a linear layer with a ReLU)
  kAccumulate,  // alpha == 1, beta != 0, no bias, no ReLU: C := sum + beta * C (a gradient +=)
  kGeneral,     // anything else: every term tested at run time
};

// C(i, j) := alpha * sum + bias[j] + beta * C(i, j) (no bias term when bias is null), then
// max(C(i, j), 0) with relu; the scalars already read out of the product, the terms
// present fixed by kStore.
template <class T, Store kStore>
struct Output {
  static constexpr bool kGeneral = kStore == Store::kGeneral;
  static constexpr bool kScale = kGeneral;  // else alpha == 1
  T alpha, beta;
  const T* bias;
  bool relu;
  bool has_bias() const {
    return kGeneral ? bias != nullptr : kStore == Store::kBias || kStore == Store::kBiasRelu;
  }
  bool has_beta() const { return kGeneral ? beta != T(0) : kStore == Store::kAccumulate; }
  bool has_relu() const { return kGeneral ? relu : kStore == Store::kBiasRelu; }
  T scale(T sum) const { return kScale ? alpha * sum : sum; }
  // x < 0 ? 0 : x lets NaN through, as np.maximum(x, 0) and ops' relu_forward do.
  T activate(T v) const { return has_relu() && v < T(0) ? T(0) : v; }
  void store(T* c, T sum, i64 j) const {
    T v = scale(sum);
    if (has_bias()) v += bias[j];
    *c = activate(has_beta() ? v + beta * *c : v);
  }
};

// body(out) with out the Output of p's case.
template <class T, class Body>
void with_output(const SmallProduct<T>& p, const Body& body) {
  const auto as = [&](auto kind) {
    body(Output<T, decltype(kind)::value>{p.alpha, p.beta, p.bias, p.relu});
  };
  using S = Store;
  const bool plain = p.alpha == T(1), fresh = p.beta == T(0), has_bias = p.bias != nullptr;
  if (plain && fresh && has_bias) {
    return p.relu ? as(std::integral_constant<S, S::kBiasRelu>{})
                  : as(std::integral_constant<S, S::kBias>{});
  }
  if (plain && !has_bias && !p.relu) {
    return fresh ? as(std::integral_constant<S, S::kSum>{})
                 : as(std::integral_constant<S, S::kAccumulate>{});
  }
  as(std::integral_constant<S, S::kGeneral>{});
}

// --- plain loops (any ISA, any precision) --------------------------------------------

// Rows [i0, i1) when K <= kSmallK: c(i, :) = sum_k a(i, k) * b(k, :), along the row
// (b rows contiguous: cs == 1).
template <int KK, class T, class Out>
void rows_small_k(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 i0, i64 i1) {
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
template <int NN, class T, class Out>
FASTBP_NO_TREE_VECTORIZE void rows_small_n(const SmallProduct<T>& p, MatView<T> b,
                                           const Out& out, i64 i0, i64 i1) {
  constexpr int L = 4;
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
template <class T, class Out>
void rows_small_n_trans_a(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 i0,
                          i64 i1) {
  constexpr i64 kBlock = 256;
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
template <class T, class Out>
void cols_small_m(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 j0, i64 j1) {
  constexpr i64 kBlock = 256;
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


// --- dispatch on the compile-time sizes ----------------------------------------------

template <class V, class T, class Out>
void rows_small_k_any(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 i0, i64 i1) {
  if constexpr (V::kFloat && std::is_same_v<T, float>) return V::rows_small_k(p, b, out, i0, i1);
  switch (p.K) {
    case 1: return rows_small_k<1>(p, b, out, i0, i1);
    case 2: return rows_small_k<2>(p, b, out, i0, i1);
    case 3: return rows_small_k<3>(p, b, out, i0, i1);
    case 4: return rows_small_k<4>(p, b, out, i0, i1);
    case 5: return rows_small_k<5>(p, b, out, i0, i1);
    case 6: return rows_small_k<6>(p, b, out, i0, i1);
    case 7: return rows_small_k<7>(p, b, out, i0, i1);
    default: return rows_small_k<8>(p, b, out, i0, i1);
  }
}

template <class V, class T, class Out>
void rows_small_n_any(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 i0, i64 i1) {
  if constexpr (V::kFloat && std::is_same_v<T, float>) return V::rows_small_n(p, b, out, i0, i1);
  // N <= kSmallN here: wider N reaches only an ISA's float loops (is_small).
  if (p.trans_a) return rows_small_n_trans_a(p, b, out, i0, i1);
  switch (p.N) {
    case 1: return rows_small_n<1>(p, b, out, i0, i1);
    case 2: return rows_small_n<2>(p, b, out, i0, i1);
    case 3: return rows_small_n<3>(p, b, out, i0, i1);
    default: return rows_small_n<4>(p, b, out, i0, i1);
  }
}

template <class V, class T, class Out>
void cols_small_m_any(const SmallProduct<T>& p, MatView<T> b, const Out& out, i64 j0, i64 j1) {
  if constexpr (V::kFloat && std::is_same_v<T, float>) return V::cols_small_m(p, b, out, j0, j1);
  cols_small_m(p, b, out, j0, j1);
}

// No float loops of an ISA's own: every product runs the plain loops.
struct NoVectorLoops {
  static constexpr bool kFloat = false;
};

}  // namespace small_detail

// V: the ISA's float loops (kFloat true, static rows_small_k, rows_small_n and cols_small_m
// templates over the Output, with the contracts of the plain ones; rows_small_n also takes
// kSmallN < N <= kSmallNWide; small_gemm_simd.hpp writes them once over an ISA's vectors),
// or small_detail::NoVectorLoops.
template <class V, class T>
void small_gemm(const SmallProduct<T>& p) {
  using namespace small_detail;
  // The loops read op(B) by columns (N small, or for an ISA's float loops up to kSmallNWide
  // when neither K nor M is small) or by rows (K or M small). B is read in place when it is
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
  with_output(p, [&](const auto& out) {
    parallel_region(nt, [&](int t, int nth) {
      const i64 u0 = units * t / nth, u1 = units * (t + 1) / nth;
      if (by_columns) {
        rows_small_n_any<V>(p, b, out, u0, u1);
      } else if (!by_m_small) {
        rows_small_k_any<V>(p, b, out, u0, u1);
      } else {
        cols_small_m_any<V>(p, b, out, u0 * 16, std::min(p.N, u1 * 16));
      }
    });
  });
  // A one-off large product does not keep its copy of B for the life of the thread.
  if (b_copy.capacity() > (std::size_t{1} << 18)) std::vector<T>().swap(b_copy);
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels
