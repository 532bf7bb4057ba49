// The parts of the AVX-512 kernel context (units built with -mavx512f -mavx512bw -mavx512vl
// -mavx512dq), each defined by the avx512 folder of its area; assembled in
// context_avx512.cpp, which takes the AVX2 parts for the rest. Declarations only.
#pragma once

#include <cstdint>

#include "runtime/context.hpp"

namespace fastbp::avx512 {

const gemm_kernels::KernelTable& gemm_part();           // gemm/kernels/avx512/gemm_avx512.cpp
const gemm_kernels::SmallGemmTable& small_gemm_part();  // gemm/kernels/avx512/small_gemm_avx512.cpp
const ActivationTables& activations_part();             // ops/kernels/avx512/activations_avx512.cpp
const SoftmaxTables& softmax_part();                    // ops/kernels/avx512/softmax_avx512.cpp
const ReductionTables& reductions_part();               // ops/kernels/avx512/reductions_avx512.cpp
const conv_kernels::DirectKernels& direct_part();       // conv/kernels/avx512/conv_direct_avx512.cpp
const winograd::Kernels& winograd_part();               // conv/kernels/avx512/conv_winograd_avx512.cpp
const pool_kernels::PoolKernels& pool_part();           // conv/kernels/avx512/pool_avx512.cpp
double fma_loop(std::int64_t iters, float* sink);       // runtime/kernels/avx512/fma_loop_avx512.cpp
const KernelContext& context();                         // runtime/kernels/avx512/context_avx512.cpp

}  // namespace fastbp::avx512
