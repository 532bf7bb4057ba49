// The parts of the AVX2 kernel context (units built with -mavx2 -mfma), each defined by the
// avx2 folder of its area; assembled in context_avx2.cpp. Declarations only.
#pragma once

#include <cstdint>

#include "runtime/context.hpp"

namespace fastbp::avx2 {

const gemm_kernels::KernelTable& gemm_part();           // gemm/kernels/avx2/gemm_avx2.cpp
const gemm_kernels::SmallGemmTable& small_gemm_part();  // gemm/kernels/avx2/small_gemm_avx2.cpp
const ActivationTables& activations_part();          // ops/kernels/avx2/activations_avx2.cpp
const SoftmaxTables& softmax_part();                 // ops/kernels/avx2/softmax_avx2.cpp
const ReductionTables& reductions_part();            // ops/kernels/avx2/reductions_avx2.cpp
const conv_kernels::DirectKernels& direct_part();    // conv/kernels/avx2/conv_direct_avx2.cpp
const winograd::Kernels& winograd_part();            // conv/kernels/avx2/conv_winograd_avx2.cpp
const pool_kernels::PoolKernels& pool_part();        // conv/kernels/avx2/pool_avx2.cpp
double fma_loop(std::int64_t iters, float* sink);    // runtime/kernels/avx2/fma_loop_avx2.cpp
const KernelContext& context();                      // runtime/kernels/avx2/context_avx2.cpp

}  // namespace fastbp::avx2
