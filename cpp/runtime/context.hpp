// The kernel context, in the spirit of BLIS's: one table per instruction set holding every
// ISA-specific kernel, filled by that ISA's folders (cpp/<area>/kernels/<isa>/) and
// assembled in runtime/kernels/<isa>/context_<isa>.cpp. Portable code takes its kernels
// only from the active context (kernel_context()), chosen once by runtime/cpu.cpp from the
// CPU's features or FASTBP_ISA. An ISA without a kernel of its own points at the next one
// down in its own table; a null entry means the portable code's loops (im2col + GEMM for
// the convolutions, scalar pooling rows). Plain declarations only: this header is shared by
// units compiled with different ISA flags.
#pragma once

#include "conv/kernels/conv_kernels.hpp"
#include "conv/kernels/pool_kernels.hpp"
#include "conv/winograd.hpp"
#include "gemm/kernels/kernels.hpp"
#include "ops/kernels/activation_table.hpp"
#include "ops/kernels/reduction_table.hpp"
#include "ops/kernels/softmax_table.hpp"
#include "runtime/fma_peak.hpp"

namespace fastbp {

struct KernelContext {
  const char* isa;                              // as FASTBP_ISA names it
  gemm_kernels::GemmKernels gemm;               // micro-kernels, blocking, small products
  const ActivationTables* activations;          // element-wise activation loops
  const SoftmaxTables* softmax;                 // fused softmax + cross-entropy
  const ReductionTables* reductions;            // column sums (bias gradients)
  const conv_kernels::DirectKernels* direct;    // direct convolutions (float32), or null
  const winograd::Kernels* winograd;            // Winograd convolutions (float32), or null
  const pool_kernels::PoolKernels* pool;        // pooling rows (float32), or null
  FmaLoop fma_loop;                             // the FMA peak loop of fastbp bench
};

// The context of the active ISA (runtime/cpu.hpp), chosen once.
const KernelContext& kernel_context();

}  // namespace fastbp
