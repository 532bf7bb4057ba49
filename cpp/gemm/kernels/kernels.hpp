// The GEMM part of a kernel context (runtime/context.hpp): the types of the tables each
// kernels/<isa>/ folder fills. Plain declarations only: no intrinsics and no inline code
// here, since this header is shared by units compiled with different ISA flags.
//
// Legend: MR x NR is the micro-tile of C one kernel call computes; k the depth.
// Operands as the kernels read them, with strides:
//   a: MR x k, element (i, p) at a[i * rs_a + p * cs_a]
//   b: k x NR, element (p, j) at b[p * rs_b + j]
// Usually packed by the framework (gemm.cpp): a as an MR-row panel stored
// column by column (rs_a = 1, cs_a = MR), b as an NR-column panel stored row by
// row (rs_b = NR), zero past the matrix edges, 64-byte aligned. For shapes where
// packing would not pay off, a and b may point straight into row-major A (rs_a =
// lda, cs_a = 1) or B (rs_b = ldb); all MR rows / NR columns then exist.
#pragma once

#include <cstdint>

namespace fastbp::gemm_kernels {

// C[0:m, 0:n] := beta * C[0:m, 0:n] + alpha * (a @ b)[0:m, 0:n], C row-major
// with row stride ldc; 1 <= m <= MR, 1 <= n <= NR. With beta == 0 C is only
// written, never read.
template <class T>
using MicroKernel = void (*)(std::int64_t k, T alpha, const T* a, std::int64_t rs_a,
                             std::int64_t cs_a, const T* b, std::int64_t rs_b, T beta, T* c,
                             std::int64_t ldc, int m, int n);

// A whole product C := alpha * op(A) @ op(B) + beta * C (C is M x N, row-major, row
// stride ldc; op(A)(i, k) = trans_a ? a[k * lda + i] : a[i * lda + k], likewise op(B)),
// small in K or N, or in M with B not transposed: see small_gemm.hpp. With beta == 0 C
// is only written.
constexpr std::int64_t kSmallK = 8;
constexpr std::int64_t kSmallN = 4;
constexpr std::int64_t kSmallM = 4;
// float32 also takes N <= kSmallNWide (an output layer of 10 classes), where the table says
// so (wide_n_f32), while op(B) fits in L1 (K * N <= kSmallNWideFloats) and, A not transposed,
// K is long enough (gemm.cpp): the blocked kernels would fill 16-wide tiles.
constexpr std::int64_t kSmallNWide = 16;
constexpr std::int64_t kSmallNWideFloats = 4096;

template <class T>
struct SmallProduct {
  bool trans_a, trans_b;
  std::int64_t M, N, K;
  T alpha;
  const T* a;
  std::int64_t lda;
  const T* b;
  std::int64_t ldb;
  T beta;
  T* c;
  std::int64_t ldc;
  const T* bias = nullptr;  // (N,): added to every row of C (only with beta == 0)
  bool relu = false;        // then C := max(C, 0), NaN kept (the ReLU of a linear layer)
};

template <class T>
using SmallGemm = void (*)(const SmallProduct<T>& p);

// small_gemm.hpp compiled by one kernels/<isa>/ folder.
struct SmallGemmTable {
  SmallGemm<float> f32;
  SmallGemm<double> f64;
  bool wide_n_f32;  // f32 has loops for kSmallN < N <= kSmallNWide
};

// One precision's kernel and cache blocks: MC a multiple of MR, NC of NR.
// KC is the depth of one packed block (A block MC x KC sits in L2, a B
// micro-panel KC x NR in L1), NC the width of the packed B block (L3).
template <class T>
struct KernelInfo {
  int mr, nr;
  int mc, kc, nc;
  MicroKernel<T> kernel;
};

struct KernelTable {
  const char* isa;
  KernelInfo<float> f32;
  KernelInfo<double> f64;
};

// The GEMM epilogue of a linear layer with a ReLU: out[0:n] := max(x[0:n], 0), NaN kept;
// out may alias x.
template <class T>
using Epilogue = void (*)(T* out, const T* x, std::int64_t n);

// Everything GEMM takes from a kernel context.
struct GemmKernels {
  const KernelTable* blocked;   // the micro-kernels of the blocked framework
  const SmallGemmTable* small;  // whole small products
  Epilogue<float> relu_f32;
  Epilogue<double> relu_f64;
};

}  // namespace fastbp::gemm_kernels
