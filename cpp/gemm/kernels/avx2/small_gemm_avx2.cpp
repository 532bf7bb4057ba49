// The small-product loops of gemm/kernels/small_gemm.hpp, compiled with -mavx2 -mfma: float32
// runs the intrinsics loops below (the same sums as the plain loops, in registers; with the
// wide-N case), double the plain loops.
#define FASTBP_ISA_TAG avx2
#include <immintrin.h>

#include "gemm/kernels/small_gemm.hpp"
#include "runtime/kernels/avx2/lanes.hpp"
#include "runtime/kernels/avx2/parts_avx2.hpp"

namespace fastbp::gemm_kernels {
inline namespace FASTBP_ISA_TAG {
namespace small_detail {

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

// The float loops small_gemm<V, float> runs (V of small_gemm.hpp).
struct Avx2Loops {
  static constexpr bool kFloat = true;

  static void rows_small_k(const SmallProduct<float>& p, MatView<float> b, i64 i0, i64 i1) {
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

  static void rows_small_n(const SmallProduct<float>& p, MatView<float> b, i64 i0, i64 i1) {
    if (p.N > kSmallN) return rows_wide_n_f32(p, b, i0, i1);
    switch (p.N) {
      case 1: return rows_small_n_f32<1>(p, b, i0, i1);
      case 2: return rows_small_n_f32<2>(p, b, i0, i1);
      case 3: return rows_small_n_f32<3>(p, b, i0, i1);
      default: return rows_small_n_f32<4>(p, b, i0, i1);
    }
  }

  static void cols_small_m(const SmallProduct<float>& p, MatView<float> b, i64 j0, i64 j1) {
    switch (p.M) {  // four ymm of columns for one or two rows, two for three or four
      case 1: return cols_small_m_f32<1, 4>(p, b, j0, j1);
      case 2: return cols_small_m_f32<2, 4>(p, b, j0, j1);
      case 3: return cols_small_m_f32<3, 2>(p, b, j0, j1);
      default: return cols_small_m_f32<4, 2>(p, b, j0, j1);
    }
  }
};

}  // namespace small_detail
}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::gemm_kernels

namespace fastbp::avx2 {

const gemm_kernels::SmallGemmTable& small_gemm_part() {
  using gemm_kernels::small_detail::Avx2Loops;
  static const gemm_kernels::SmallGemmTable table{
      &gemm_kernels::small_gemm<Avx2Loops, float>, &gemm_kernels::small_gemm<Avx2Loops, double>,
      true};
  return table;
}

}  // namespace fastbp::avx2
