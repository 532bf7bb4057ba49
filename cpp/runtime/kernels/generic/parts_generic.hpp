// The parts of the generic kernel context (plain loops, baseline flags), each defined by
// the generic folder of its area; assembled in context_generic.cpp.
#pragma once

#include <cstdint>

#include "runtime/context.hpp"

namespace fastbp::generic {

const gemm_kernels::KernelTable& gemm_part();           // gemm/kernels/generic/gemm_generic.cpp
const gemm_kernels::SmallGemmTable& small_gemm_part();  // gemm/kernels/generic/small_gemm_generic.cpp
const ActivationTables& activations_part();  // ops/kernels/generic/activations_generic.cpp
const SoftmaxTables& softmax_part();         // ops/kernels/generic/softmax_generic.cpp
const ReductionTables& reductions_part();    // ops/kernels/generic/reductions_generic.cpp
double fma_loop(std::int64_t iters, float* sink);  // runtime/kernels/generic/fma_loop_generic.cpp
const KernelContext& context();                    // runtime/kernels/generic/context_generic.cpp

}  // namespace fastbp::generic
