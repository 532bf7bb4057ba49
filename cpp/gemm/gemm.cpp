// The blocked GEMM framework (BLIS style), written once for float and double:
// five loops around an ISA-specific micro-kernel, packing, cache blocking, threads.
//
// Legend: C (M x N) := alpha * op(A) (M x K) @ op(B) (K x N) + beta * C, row-major.
//   MR x NR  micro-tile of one kernel call (kernels/<isa>/)
//   MC x KC  block of op(A) packed into MR-row panels      (L2)
//   KC x NC  block of op(B) packed into NR-column panels   (L3; one KC x NR panel in L1)
// Loops: jc over N by NC, pc over K by KC (pack B), ic over M by MC (pack A),
//        jr over NR panels, ir over MR panels -> micro-kernel.
// Packing applies the transposes, so the kernels see one layout; alpha and beta
// are applied by the kernels. Where a packed panel would be reused only a few
// times (A when N is small, B when M is small) the kernels read full panels of
// a non-transposed operand in place; only edge panels are packed (zero-padded).
// Pack buffers are 64-byte aligned, owned by the calling thread, and reused.
//
// Threads split the M x N tile grid, and the tile grid (global multiples of MR and NR)
// and the K blocks depend on the shape alone, so every element of C sees the same
// sequence of operations for any thread count: results are bitwise identical. How the
// tiles are shared: see gemm_blocked. A C of a few tiles with a long K (a convolution's
// weight gradient, 30 x 25 with K = 57600) is split along K instead (gemm_k_split): K
// parts whose bounds depend on the shape alone, each a product of its own, summed in part
// order, on one thread or several alike.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>  // baseline x86-64 (SSE2) only, for packing

#include "runtime/sse_transpose.hpp"
#endif

#include "gemm/gemm.hpp"
#include "gemm/kernels/kernels.hpp"
#include "runtime/context.hpp"
#include "runtime/threads.hpp"

namespace fastbp {

namespace {

using gemm_kernels::KernelInfo;
using i64 = std::int64_t;

i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

// The active context's GEMM kernels for T.
const gemm_kernels::GemmKernels& kernels() { return kernel_context().gemm; }
template <class T> const KernelInfo<T>& kernel_info();
template <> const KernelInfo<float>& kernel_info<float>() { return kernels().blocked->f32; }
template <> const KernelInfo<double>& kernel_info<double>() { return kernels().blocked->f64; }
template <class T> gemm_kernels::SmallGemm<T> small_gemm();
template <> gemm_kernels::SmallGemm<float> small_gemm<float>() { return kernels().small->f32; }
template <> gemm_kernels::SmallGemm<double> small_gemm<double>() { return kernels().small->f64; }
template <class T> gemm_kernels::Epilogue<T> relu_epilogue();
template <> gemm_kernels::Epilogue<float> relu_epilogue<float>() { return kernels().relu_f32; }
template <> gemm_kernels::Epilogue<double> relu_epilogue<double>() { return kernels().relu_f64; }

// Products for the small-GEMM loops (kernels/small_gemm.hpp) rather than the blocked framework.
// The wide-N dot products (float32, where the context has them) pay a horizontal sum per row
// of C: with A not transposed they need K >= kWideMinK to beat the blocked kernels' 16-wide
// tiles.
template <class T>
bool is_small(bool trans_a, bool trans_b, i64 M, i64 N, i64 K) {
  using namespace gemm_kernels;
  constexpr i64 kWideMinK = 128;
  const bool wide_n = std::is_same_v<T, float> && kernels().small->wide_n_f32 &&
                      N <= kSmallNWide && N * K <= kSmallNWideFloats &&
                      (trans_a || K >= kWideMinK);
  return K <= kSmallK || N <= kSmallN || (M <= kSmallM && !trans_b) || wide_n;
}

// Pack buffers: 64-byte aligned, grown on demand and kept for the next call.
// One per calling thread (its OpenMP team shares it), so steady-state calls
// allocate nothing and concurrent callers never share one.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { std::free(data_); }

  void* get(std::size_t bytes) {
    if (bytes > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      const std::size_t rounded = static_cast<std::size_t>(round_up(static_cast<i64>(bytes), 4096));
      data_ = std::aligned_alloc(64, rounded);
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = rounded;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

thread_local Workspace tls_workspace;

template <class T>
struct Problem {
  bool trans_a, trans_b;
  i64 M, N, K;
  T alpha;
  const T* A;
  i64 lda;
  const T* B;
  i64 ldb;
  T beta;
  T* C;
  i64 ldc;
};

// One MR-row panel of op(A): rows [i, i + rows) x cols [p0, p0 + kc) into
// dst[p * MR + r], rows past `rows` zero. MR is a compile-time constant for the
// kernels' tile heights so the copies unroll; 0 means "use mr".
template <int MR, class T>
void pack_a_panel(const Problem<T>& pr, int mr, i64 i, int rows, i64 p0, i64 kc, T* dst) {
  const int R = MR > 0 ? MR : mr;
  if (!pr.trans_a) {  // op(A)(i, p) = A[i * lda + p]: rows of op(A) are contiguous
    const T* src = pr.A + i * pr.lda + p0;
    if (rows == R) {
      // Short row segments at a large stride defeat the hardware prefetcher:
      // fetch the next panel's rows while copying this one (unless all rows
      // fall in one L1 set, where that would evict the rows being copied).
      const T* next = src + R * pr.lda;
      const bool prefetch = i + 2 * R <= pr.M && (pr.lda * i64(sizeof(T))) % 4096 != 0;
      i64 p = 0;
#if defined(__SSE2__)
      if constexpr (MR == 6 && std::is_same_v<T, float>) {
        // Four columns at a time, as a 6 x 4 block stored transposed.
        const i64 ld = pr.lda;
        for (; p + 4 <= kc; p += 4) {
          if (prefetch && p % 16 == 0)
            for (int r = 0; r < R; ++r) __builtin_prefetch(next + r * ld + p);
          sse::store_transposed_6x4(
              dst + p * 6, _mm_loadu_ps(src + p), _mm_loadu_ps(src + ld + p),
              _mm_loadu_ps(src + 2 * ld + p), _mm_loadu_ps(src + 3 * ld + p),
              _mm_loadu_ps(src + 4 * ld + p), _mm_loadu_ps(src + 5 * ld + p));
        }
      }
#endif
      for (; p < kc; ++p) {
        if (prefetch && p % (64 / sizeof(T)) == 0)
          for (int r = 0; r < R; ++r) __builtin_prefetch(next + r * pr.lda + p);
        for (int r = 0; r < R; ++r) dst[p * R + r] = src[r * pr.lda + p];
      }
      return;
    }
    for (i64 p = 0; p < kc; ++p) {
      for (int r = 0; r < rows; ++r) dst[p * R + r] = src[r * pr.lda + p];
      for (int r = rows; r < R; ++r) dst[p * R + r] = T(0);
    }
  } else {  // op(A)(i, p) = A[p * lda + i]: columns of op(A) are contiguous
    const T* src = pr.A + p0 * pr.lda + i;
    if (rows == R) {
      for (i64 p = 0; p < kc; ++p)
        for (int r = 0; r < R; ++r) dst[p * R + r] = src[p * pr.lda + r];
      return;
    }
    const T* end = pr.A + (pr.K - 1) * pr.lda + pr.M;  // as for B's edge panels
    for (i64 p = 0; p < kc; ++p) {
      const T* s = src + p * pr.lda;
      T* d = dst + p * R;
      if (end - s >= R) {
        for (int r = 0; r < R; ++r) d[r] = r < rows ? s[r] : T(0);
      } else {
        for (int r = 0; r < R; ++r) d[r] = T(0);
        for (int r = 0; r < rows; ++r) d[r] = s[r];
      }
    }
  }
}

// One NR-column panel of op(B): rows [p0, p0 + kc) x cols [j, j + cols) into
// dst[p * NR + c], columns past `cols` zero.
template <int NR, class T>
void pack_b_panel(const Problem<T>& pr, int nr, i64 j, int cols, i64 p0, i64 kc, T* dst) {
  const int R = NR > 0 ? NR : nr;
  if (!pr.trans_b) {  // op(B)(p, j) = B[p * ldb + j]
    const T* src = pr.B + p0 * pr.ldb + j;
    if (cols == R) {
      for (i64 p = 0; p < kc; ++p)
        for (int c = 0; c < R; ++c) dst[p * R + c] = src[p * pr.ldb + c];
      return;
    }
    // Edge panel: read whole rows of R where they stay inside B and keep the
    // first `cols` (a select, so whatever follows the row cannot leak in).
    const T* end = pr.B + (pr.K - 1) * pr.ldb + pr.N;
    for (i64 p = 0; p < kc; ++p) {
      const T* s = src + p * pr.ldb;
      T* d = dst + p * R;
      if (end - s >= R) {
        for (int c = 0; c < R; ++c) d[c] = c < cols ? s[c] : T(0);
      } else {
        for (int c = 0; c < R; ++c) d[c] = T(0);
        for (int c = 0; c < cols; ++c) d[c] = s[c];
      }
    }
  } else {  // op(B)(p, j) = B[j * ldb + p]
    const T* src = pr.B + j * pr.ldb + p0;
    if (cols == R) {
      i64 p = 0;
#if defined(__SSE2__)
      if constexpr (std::is_same_v<T, float> && NR % 4 == 0 && NR > 0) {
        // Columns of op(B) are rows of B: 4 x 4 transposes of four rows by four
        // of their elements, instead of R loads a row apart per element.
        const i64 ld = pr.ldb;
        for (; p + 4 <= kc; p += 4) {
          for (int c = 0; c < R; c += 4) {
            const float* s = src + c * ld + p;
            __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + ld);
            __m128 r2 = _mm_loadu_ps(s + 2 * ld), r3 = _mm_loadu_ps(s + 3 * ld);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float* d = dst + p * R + c;
            _mm_storeu_ps(d, r0);
            _mm_storeu_ps(d + R, r1);
            _mm_storeu_ps(d + 2 * R, r2);
            _mm_storeu_ps(d + 3 * R, r3);
          }
        }
      }
#endif
      for (; p < kc; ++p)
        for (int c = 0; c < R; ++c) dst[p * R + c] = src[c * pr.ldb + p];
      return;
    }
    for (i64 p = 0; p < kc; ++p) {
      for (int c = 0; c < cols; ++c) dst[p * R + c] = src[c * pr.ldb + p];
      for (int c = cols; c < R; ++c) dst[p * R + c] = T(0);
    }
  }
}

// Panel q of op(A)[i0 : i0 + mc, p0 : p0 + kc] (rows i0 + q * mr ...) into dst.
template <class T>
void pack_a(const Problem<T>& pr, int mr, i64 i0, i64 mc, i64 p0, i64 kc, i64 q, T* dst) {
  const i64 i = i0 + q * mr;
  const int rows = static_cast<int>(std::min<i64>(mr, i0 + mc - i));
  switch (mr) {
    case 4: pack_a_panel<4>(pr, mr, i, rows, p0, kc, dst); break;
    case 6: pack_a_panel<6>(pr, mr, i, rows, p0, kc, dst); break;
    case 12: pack_a_panel<12>(pr, mr, i, rows, p0, kc, dst); break;
    default: pack_a_panel<0>(pr, mr, i, rows, p0, kc, dst);
  }
}

// `panels` full panels of width W from `rows` rows of panels * W contiguous elements (row p
// at src + p * ld), row by row: each source row is read once, sequentially, instead of in
// W-element pieces a row apart per panel, which the hardware prefetcher cannot follow.
// Panel q goes to dst + q * stride (row p at p * W); Ahead > 0 prefetches that many rows
// ahead. Used for the operand whose panels run along its rows: transposed A, plain B.
template <int W, int Ahead, class T>
void pack_rows(const T* src, i64 ld, i64 rows, i64 panels, i64 stride, T* dst) {
  constexpr i64 kLine = 64 / sizeof(T);  // elements per cache line
  const i64 len = panels * W;
  for (i64 p = 0; p < rows; ++p, src += ld, dst += W) {
    if (Ahead > 0 && p + Ahead < rows)
      for (i64 e = 0; e < len; e += kLine) __builtin_prefetch(src + Ahead * ld + e);
    const T* s = src;
    T* d = dst;
    for (i64 q = 0; q < panels; ++q, s += W, d += stride) std::memcpy(d, s, W * sizeof(T));
  }
}

// pack_rows for the kernels' panel widths; false (nothing done) for any other width.
template <int Ahead, class T>
bool pack_rows_of_width(int w, const T* src, i64 ld, i64 rows, i64 panels, i64 stride, T* dst) {
  switch (w) {
    case 4: return pack_rows<4, Ahead>(src, ld, rows, panels, stride, dst), true;
    case 6: return pack_rows<6, Ahead>(src, ld, rows, panels, stride, dst), true;
    case 8: return pack_rows<8, Ahead>(src, ld, rows, panels, stride, dst), true;
    case 12: return pack_rows<12, Ahead>(src, ld, rows, panels, stride, dst), true;
    case 16: return pack_rows<16, Ahead>(src, ld, rows, panels, stride, dst), true;
    case 32: return pack_rows<32, Ahead>(src, ld, rows, panels, stride, dst), true;
    default: return false;
  }
}

// Panels [q0, q1) of op(A)[i0 : i0 + mc, p0 : p0 + kc] into dst + (q - q0) * stride.
template <class T>
void pack_a_panels(const Problem<T>& pr, int mr, i64 i0, i64 mc, i64 p0, i64 kc, i64 q0,
                   i64 q1, i64 stride, T* dst) {
  constexpr int kAhead = 8;  // rows of A prefetched ahead (row segments a row of A apart)
  const i64 full = std::min(q1, mc / mr);  // panels before `full` have all mr rows
  i64 q = q0;
  if (pr.trans_a && full > q0 &&
      pack_rows_of_width<kAhead>(mr, pr.A + p0 * pr.lda + i0 + q0 * mr, pr.lda, kc,
                                 full - q0, stride, dst))
    q = full;
  for (; q < q1; ++q) pack_a(pr, mr, i0, mc, p0, kc, q, dst + (q - q0) * stride);
}

// Panel q of op(B)[p0 : p0 + kc, j0 : j0 + nc] (columns j0 + q * nr ...) into dst.
template <class T>
void pack_b(const Problem<T>& pr, int nr, i64 j0, i64 nc, i64 p0, i64 kc, i64 q, T* dst) {
  const i64 j = j0 + q * nr;
  const int cols = static_cast<int>(std::min<i64>(nr, j0 + nc - j));
  switch (nr) {
    case 4: pack_b_panel<4>(pr, nr, j, cols, p0, kc, dst); break;
    case 8: pack_b_panel<8>(pr, nr, j, cols, p0, kc, dst); break;
    case 16: pack_b_panel<16>(pr, nr, j, cols, p0, kc, dst); break;
    case 32: pack_b_panel<32>(pr, nr, j, cols, p0, kc, dst); break;
    default: pack_b_panel<0>(pr, nr, j, cols, p0, kc, dst);
  }
}

// Panels [q0, q1) of op(B)[p0 : p0 + kc, j0 : j0 + nc] into dst + (q - q0) * stride.
template <class T>
void pack_b_panels(const Problem<T>& pr, int nr, i64 j0, i64 nc, i64 p0, i64 kc, i64 q0,
                   i64 q1, i64 stride, T* dst) {
  const i64 full = std::min(q1, nc / nr);  // panels before `full` have all nr columns
  i64 q = q0;
  if (!pr.trans_b && full > q0 &&
      pack_rows_of_width<0>(nr, pr.B + p0 * pr.ldb + j0 + q0 * nr, pr.ldb, kc, full - q0,
                            stride, dst))
    q = full;
  for (; q < q1; ++q) pack_b(pr, nr, j0, nc, p0, kc, q, dst + (q - q0) * stride);
}

// Block sizes for one call; they depend on the shape and the kernel, never on threads.
struct Blocking {
  i64 kc, nc;              // K and N block sizes, balanced so the last block is not tiny
  i64 a_stride, b_stride;  // elements between packed panels (64-byte multiples)
  // Read full MR-row panels straight from row-major A (no packing) when few B
  // panels would reuse a packed A panel; likewise full NR-column panels of B
  // when few row tiles would reuse it. Partial edge panels are always packed.
  bool direct_a, direct_b;
};

// Which panels of a block are packed: [first, count) with slot q - first; with
// direct access only a partial last panel is.
struct PackPlan {
  i64 first, count;
  static PackPlan make(bool direct, i64 extent, i64 r) {
    const i64 panels = ceil_div(extent, r);
    if (!direct) return {0, panels};
    return {extent / r, panels - extent / r};
  }
};

constexpr i64 kL2Budget = 256 * 1024;  // bytes of L2 the packed blocks may fill
constexpr i64 kPackChunk = 8;          // B panels one thread packs at a time

template <class T>
Blocking choose_blocking(const Problem<T>& pr, const KernelInfo<T>& ki) {
  constexpr i64 line = 64 / sizeof(T);
  i64 kc_max = ki.kc;
  if (pr.M <= ki.mc && pr.N <= ki.nc) {
    // A C of a few tiles (e.g. 30 x 25 with long K): 4x deeper K blocks, while
    // both blocks still fit in L2, mean fewer passes over C and fewer kernel calls.
    const i64 bytes_per_k = (round_up(pr.M, ki.mr) + round_up(pr.N, ki.nr)) * i64(sizeof(T));
    if (4 * ki.kc * bytes_per_k <= kL2Budget) kc_max = 4 * ki.kc;
  }
  Blocking bl;
  // K up to 5/4 of the block depth stays in one block: one pass over C, not two.
  bl.kc = ceil_div(pr.K, ceil_div(pr.K * 4, kc_max * 5));
  bl.nc = round_up(ceil_div(pr.N, ceil_div(pr.N, ki.nc)), ki.nr);
  bl.a_stride = round_up(ki.mr * bl.kc, line);
  bl.b_stride = round_up(ki.nr * bl.kc, line);
  // Row strides that are multiples of 4 KiB would pile the rows into one L1 set.
  const auto spread = [](i64 ld) { return (ld * i64(sizeof(T))) % 4096 != 0; };
  bl.direct_a = !pr.trans_a && pr.N <= 8 * ki.nr && spread(pr.lda);
  bl.direct_b = !pr.trans_b && pr.M <= 32 * ki.mr && spread(pr.ldb);
  return bl;
}

// Tiles of the macro-block (mc x nc at C[ic, jc], depth kc at pc) with linear
// index in [t0, t1), counted down the MR panels of one NR panel, then the next.
// Panels before plan.first are read from A / B directly, the rest from `ap` / `bp`.
template <class T>
void macro_kernel(const Problem<T>& pr, const KernelInfo<T>& ki, const Blocking& bl,
                  const T* ap, PackPlan plan_a, const T* bp, PackPlan plan_b, i64 ic, i64 mc,
                  i64 jc, i64 nc, i64 pc, i64 kc, T beta, i64 t0, i64 t1) {
  const i64 tiles_m = ceil_div(mc, ki.mr);
  for (i64 t = t0; t < t1; ++t) {
    const i64 jp = t / tiles_m, ip = t % tiles_m;
    const i64 jr = jp * ki.nr, ir = ip * ki.mr;
    const int m = static_cast<int>(std::min<i64>(ki.mr, mc - ir));
    const int n = static_cast<int>(std::min<i64>(ki.nr, nc - jr));
    const bool a_direct = ip < plan_a.first, b_direct = jp < plan_b.first;
    const T* a = a_direct ? pr.A + (ic + ir) * pr.lda + pc : ap + (ip - plan_a.first) * bl.a_stride;
    const T* b = b_direct ? pr.B + pc * pr.ldb + jc + jr : bp + (jp - plan_b.first) * bl.b_stride;
    ki.kernel(kc, pr.alpha, a, a_direct ? pr.lda : 1, a_direct ? 1 : ki.mr, b,
              b_direct ? pr.ldb : ki.nr, beta, pr.C + (ic + ir) * pr.ldc + jc + jr, pr.ldc, m,
              n);
  }
}

template <class T>
void scale_c(const Problem<T>& pr) {
  for (i64 i = 0; i < pr.M; ++i) {
    T* c = pr.C + i * pr.ldc;
    if (pr.beta == T(0)) {
      std::fill(c, c + pr.N, T(0));
    } else {
      for (i64 j = 0; j < pr.N; ++j) c[j] *= pr.beta;
    }
  }
}

// The five loops, serially, over the tiles of C[m0:m1, n0:n1] (bounds on the
// tile grid), packing into this caller's `ap` (one A block) and `bp` (one B block).
template <class T>
void gemm_region(const Problem<T>& pr, const KernelInfo<T>& ki, const Blocking& bl, i64 m0,
                 i64 m1, i64 n0, i64 n1, i64 mc_blk, T* ap, T* bp) {
  for (i64 jc = n0; jc < n1; jc += bl.nc) {
    const i64 nc = std::min(bl.nc, n1 - jc);
    const PackPlan plan_b = PackPlan::make(bl.direct_b, nc, ki.nr);
    for (i64 pc = 0; pc < pr.K; pc += bl.kc) {
      const i64 kc = std::min(bl.kc, pr.K - pc);
      const T beta = pc == 0 ? pr.beta : T(1);
      pack_b_panels(pr, ki.nr, jc, nc, pc, kc, plan_b.first, plan_b.first + plan_b.count,
                    bl.b_stride, bp);
      for (i64 ic = m0; ic < m1; ic += mc_blk) {
        const i64 mc = std::min(mc_blk, m1 - ic);
        const PackPlan plan_a = PackPlan::make(bl.direct_a, mc, ki.mr);
        pack_a_panels(pr, ki.mr, ic, mc, pc, kc, plan_a.first, plan_a.first + plan_a.count,
                      bl.a_stride, ap);
        macro_kernel(pr, ki, bl, ap, plan_a, bp, plan_b, ic, mc, jc, nc, pc, kc, beta, 0,
                     ceil_div(mc, ki.mr) * ceil_div(nc, ki.nr));
      }
    }
  }
}

// Threads (never splitting K; see the top of the file), chosen per shape:
//   one thread   gemm_region over all of C, no parallel region
//   independent  C is cut into one band of row tiles (or column panels) per
//                thread, each running gemm_region with its own buffers: no
//                barrier at all, which also keeps a busy machine from stalling
//                the team. Used unless the bands would be unbalanced or the
//                packing every thread repeats would cost more than ~10%.
//   split_m      row blocks of C are dealt out dynamically (omp for), each
//                thread packing its own A block; the B block of each (jc, pc)
//                step is packed by all threads together (mid-sized M, where
//                every thread packing all of B would cost too much)
//   split_mn     both blocks are packed together and single tiles of each
//                macro-block are dealt out (few row tiles and B packed)
// Dynamic dealing means a thread slowed by a busy core hands work to the
// other; the pieces never change what a tile computes.
template <class T>
void gemm_k_split(const Problem<T>& pr, const KernelInfo<T>& ki, i64 parts);
template <class T>
i64 k_split_parts(const Problem<T>& pr, const KernelInfo<T>& ki);

template <class T>
void gemm_blocked(const Problem<T>& pr) {
  const KernelInfo<T>& ki = kernel_info<T>();
  if (const i64 parts = k_split_parts(pr, ki); parts > 1) return gemm_k_split(pr, ki, parts);
  const Blocking bl = choose_blocking(pr, ki);
  const i64 M = pr.M, N = pr.N, K = pr.K;
  const i64 tiles_m = ceil_div(M, ki.mr), tiles_n = ceil_div(N, ki.nr);
  const i64 a_block = ceil_div(std::min<i64>(ki.mc, round_up(M, ki.mr)), ki.mr) * bl.a_stride;
  const i64 b_block = ceil_div(bl.nc, ki.nr) * bl.b_stride;

  int nt = threads_for(2.0 * double(M) * double(N) * double(K), 2.0e6);
  if (nt == 1) {
    T* bp = static_cast<T*>(
        tls_workspace.get(sizeof(T) * static_cast<std::size_t>(b_block + a_block)));
    gemm_region(pr, ki, bl, 0, M, 0, N, ki.mc, bp + b_block, bp);
    return;
  }

  // Independent bands when the tiles divide evenly enough and the packing each
  // thread repeats (all of B for row bands, all of A for column bands; about
  // 16 * nt / M resp. 16 * nt / N of the flops) costs little.
  const auto score = [&](i64 tiles, bool direct, i64 extent) {
    if (tiles < nt) return 0.0;
    const double balance = double(tiles) / double(nt * ceil_div(tiles, nt));
    return balance * (1.0 - (direct ? 0.0 : 16.0 * nt / double(extent)));
  };
  const double rows_score = score(tiles_m, bl.direct_b, M);
  const double cols_score = score(tiles_n, bl.direct_a, N);
  if (std::max(rows_score, cols_score) >= 0.9) {
    // Rows unless columns are clearly better: column bands make every thread
    // read all of A, and tall-skinny shapes are bound by memory traffic.
    const bool by_rows = rows_score + 0.05 >= cols_score;
    T* ws = static_cast<T*>(
        tls_workspace.get(sizeof(T) * static_cast<std::size_t>(nt * (b_block + a_block))));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      const int t = team_thread(), nth = team_size();
      const i64 tiles = by_rows ? tiles_m : tiles_n;
      const i64 lo = tiles * t / nth, hi = tiles * (t + 1) / nth;
      T* bp = ws + t * (b_block + a_block);
      if (by_rows) {
        gemm_region(pr, ki, bl, std::min(M, lo * ki.mr), std::min(M, hi * ki.mr), 0, N, ki.mc,
                    bp + b_block, bp);
      } else {
        gemm_region(pr, ki, bl, 0, M, std::min(N, lo * ki.nr), std::min(N, hi * ki.nr), ki.mc,
                    bp + b_block, bp);
      }
    }
    return;
  }

  // split_m: row blocks of C go to threads, each packing its own A block; it
  // needs a few row blocks per thread, else split_mn deals out single tiles.
  const bool split_m = tiles_m >= 3 * i64(nt);
  // Row block height: MC, or less so that every thread gets about 3 blocks.
  const i64 mc_blk = std::min<i64>(
      ki.mc, round_up(split_m ? ceil_div(M, 3 * i64(nt)) : M, ki.mr));
  const i64 blocks_m = ceil_div(M, mc_blk);
  if (split_m) nt = static_cast<int>(std::min<i64>(nt, blocks_m));

  const i64 a_size = ceil_div(mc_blk, ki.mr) * bl.a_stride;
  const i64 b_size = b_block;
  const i64 a_count = split_m ? nt : 1;
  T* bp = static_cast<T*>(
      tls_workspace.get(sizeof(T) * static_cast<std::size_t>(b_size + a_count * a_size)));
  T* ap_all = bp + b_size;

#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    T* ap = split_m ? ap_all + team_thread() * a_size : ap_all;
    for (i64 jc = 0; jc < N; jc += bl.nc) {
      const i64 nc = std::min(bl.nc, N - jc);
      const i64 panels_b = ceil_div(nc, ki.nr);
      const PackPlan plan_b = PackPlan::make(bl.direct_b, nc, ki.nr);
      for (i64 pc = 0; pc < K; pc += bl.kc) {
        const i64 kc = std::min(bl.kc, K - pc);
        const T beta = pc == 0 ? pr.beta : T(1);
        if (split_m) {
#pragma omp for schedule(dynamic, 1)
          for (i64 q = 0; q < plan_b.count; q += kPackChunk)
            pack_b_panels(pr, ki.nr, jc, nc, pc, kc, plan_b.first + q,
                          plan_b.first + std::min(plan_b.count, q + kPackChunk), bl.b_stride,
                          bp + q * bl.b_stride);
#pragma omp for schedule(dynamic, 1)
          for (i64 blk = 0; blk < blocks_m; ++blk) {
            const i64 ic = blk * mc_blk;
            const i64 mc = std::min(mc_blk, M - ic);
            const PackPlan plan_a = PackPlan::make(bl.direct_a, mc, ki.mr);
            pack_a_panels(pr, ki.mr, ic, mc, pc, kc, plan_a.first,
                          plan_a.first + plan_a.count, bl.a_stride, ap);
            macro_kernel(pr, ki, bl, ap, plan_a, bp, plan_b, ic, mc, jc, nc, pc, kc, beta, 0,
                         ceil_div(mc, ki.mr) * panels_b);
          }
        } else {
          for (i64 ic = 0; ic < M; ic += mc_blk) {
            const i64 mc = std::min(mc_blk, M - ic);
            const PackPlan plan_a = PackPlan::make(bl.direct_a, mc, ki.mr);
            // Pack B (first row block only; kPackChunk panels a piece) and A
            // together, then deal out the tiles.
            const i64 chunks_b = ic == 0 ? ceil_div(plan_b.count, kPackChunk) : 0;
#pragma omp for schedule(dynamic, 1)
            for (i64 q = 0; q < chunks_b + plan_a.count; ++q) {
              if (q < chunks_b) {
                const i64 qb = q * kPackChunk;
                pack_b_panels(pr, ki.nr, jc, nc, pc, kc, plan_b.first + qb,
                              plan_b.first + std::min(plan_b.count, qb + kPackChunk),
                              bl.b_stride, bp + qb * bl.b_stride);
              } else {
                const i64 qa = q - chunks_b;
                pack_a(pr, ki.mr, ic, mc, pc, kc, plan_a.first + qa, ap + qa * bl.a_stride);
              }
            }
            const i64 tiles = ceil_div(mc, ki.mr) * panels_b;
#pragma omp for schedule(dynamic, 1)
            for (i64 t = 0; t < tiles; ++t)
              macro_kernel(pr, ki, bl, ap, plan_a, bp, plan_b, ic, mc, jc, nc, pc, kc, beta, t,
                           t + 1);
          }
        }
      }
    }
  }
}

// The K split: C of at most kSplitMaxTiles tiles and K of at least 2 * kSplitMinDepth.
// K is cut into min(K / kSplitMinDepth, kSplitMaxParts) parts of nearly equal depth.
constexpr i64 kSplitMaxTiles = 16;
constexpr i64 kSplitMinDepth = 4096;
constexpr i64 kSplitMaxParts = 8;

template <class T>
i64 k_split_parts(const Problem<T>& pr, const KernelInfo<T>& ki) {
  const i64 tiles = ceil_div(pr.M, ki.mr) * ceil_div(pr.N, ki.nr);
  if (tiles > kSplitMaxTiles || pr.K < 2 * kSplitMinDepth) return 1;
  return std::min(pr.K / kSplitMinDepth, kSplitMaxParts);
}

// The five loops on one thread over all of C, packing into the calling thread's buffers.
template <class T>
void gemm_serial(const Problem<T>& pr, const KernelInfo<T>& ki) {
  const Blocking bl = choose_blocking(pr, ki);
  const i64 a_block = ceil_div(std::min<i64>(ki.mc, round_up(pr.M, ki.mr)), ki.mr) * bl.a_stride;
  const i64 b_block = ceil_div(bl.nc, ki.nr) * bl.b_stride;
  T* bp = static_cast<T*>(
      tls_workspace.get(sizeof(T) * static_cast<std::size_t>(b_block + a_block)));
  gemm_region(pr, ki, bl, 0, pr.M, 0, pr.N, ki.mc, bp + b_block, bp);
}

// C := alpha * (P_0 + P_1 + ... + P_{parts-1}) + beta * C, P_q = op(A)[:, K_q] @ op(B)[K_q, :]
// over part q's range K_q of K, each computed alone (alpha 1, beta 0) into its own M x N
// buffer, the parts dealt out to the threads, then summed in part order.
template <class T>
void gemm_k_split(const Problem<T>& pr, const KernelInfo<T>& ki, i64 parts) {
  const i64 M = pr.M, N = pr.N, MN = M * N;
  std::vector<T> partial(static_cast<std::size_t>(parts * MN));
  const int nt = static_cast<int>(std::min<i64>(
      parts, threads_for(2.0 * double(M) * double(N) * double(pr.K), 2.0e6)));
  parallel_region(nt, [&](int, int) {
#pragma omp for schedule(dynamic, 1)
    for (i64 q = 0; q < parts; ++q) {
      const i64 k0 = pr.K * q / parts, k1 = pr.K * (q + 1) / parts;
      Problem<T> sub = pr;
      sub.K = k1 - k0;
      sub.A = pr.trans_a ? pr.A + k0 * pr.lda : pr.A + k0;
      sub.B = pr.trans_b ? pr.B + k0 : pr.B + k0 * pr.ldb;
      sub.alpha = T(1);
      sub.beta = T(0);
      sub.C = partial.data() + q * MN;
      sub.ldc = N;
      gemm_serial(sub, ki);
    }
  });
  for (i64 i = 0; i < M; ++i) {
    T* c = pr.C + i * pr.ldc;
    for (i64 j = 0; j < N; ++j) {
      T sum = partial[static_cast<std::size_t>(i * N + j)];
      for (i64 q = 1; q < parts; ++q) sum += partial[static_cast<std::size_t>(q * MN + i * N + j)];
      c[j] = pr.beta == T(0) ? pr.alpha * sum : pr.alpha * sum + pr.beta * c[j];
    }
  }
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const Problem<T> pr{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (K <= 0 || alpha == T(0)) {  // BLAS convention: A and B are not read
    scale_c(pr);
    return;
  }
  if (is_small<T>(trans_a, trans_b, M, N, K)) {
    small_gemm<T>()({trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
    return;
  }
  gemm_blocked(pr);
}

template <class T>
void gemm_bias(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda,
               const T* B, std::int64_t ldb, const T* bias, T* C, std::int64_t ldc,
               bool relu) {
  if (M <= 0 || N <= 0) return;
  if (K > 0 && is_small<T>(false, false, M, N, K)) {
    gemm_kernels::SmallProduct<T> p{false, false, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc};
    p.bias = bias;
    p.relu = relu;
    small_gemm<T>()(p);
    return;
  }
  for (std::int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
  gemm<T>(false, false, M, N, K, T(1), A, lda, B, ldb, T(1), C, ldc);
  if (!relu) return;
  const gemm_kernels::Epilogue<T> relu_c = relu_epilogue<T>();
  if (ldc == N) {
    relu_c(C, C, M * N);  // in place, while C is warm in cache
  } else {
    for (std::int64_t i = 0; i < M; ++i) relu_c(C + i * ldc, C + i * ldc, N);
  }
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                          const float*, std::int64_t, const float*, std::int64_t, float, float*,
                          std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, const double*, std::int64_t, double,
                           double*, std::int64_t);

template void gemm_bias<float>(std::int64_t, std::int64_t, std::int64_t, const float*,
                               std::int64_t, const float*, std::int64_t, const float*, float*,
                               std::int64_t, bool);
template void gemm_bias<double>(std::int64_t, std::int64_t, std::int64_t, const double*,
                                std::int64_t, const double*, std::int64_t, const double*,
                                double*, std::int64_t, bool);

}  // namespace fastbp
