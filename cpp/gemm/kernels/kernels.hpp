// GEMM micro-kernel tables, one per ISA. Plain declarations only: no intrinsics
// and no inline code here, since this header is shared by units compiled with
// different ISA flags.
//
// Legend: MR x NR is the micro-tile of C one kernel call computes; k the depth.
// Packed layouts the kernels read (written by the framework in gemm.cpp):
//   a: MR x k panel, column by column: a[p * MR + i] = alpha-free op(A)(i, p)
//   b: k x NR panel, row by row:       b[p * NR + j] = op(B)(p, j)
// Rows of a past the matrix edge and columns of b past it are zero.
#pragma once

#include <cstdint>

namespace fastbp::gemm_kernels {

// C[0:m, 0:n] := beta * C[0:m, 0:n] + alpha * (a @ b)[0:m, 0:n], C row-major
// with row stride ldc; 1 <= m <= MR, 1 <= n <= NR. With beta == 0 C is only
// written, never read. a and b are 64-byte aligned.
template <class T>
using MicroKernel = void (*)(std::int64_t k, T alpha, const T* a, const T* b, T beta, T* c,
                             std::int64_t ldc, int m, int n);

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

// Defined in kernels/<isa>/; call only the one the CPU supports.
const KernelTable& generic_table();
const KernelTable& avx2_table();
const KernelTable& avx512_table();

}  // namespace fastbp::gemm_kernels
