// The parts of the NEON kernel context (AArch64), each defined by the neon folder of its
// area; assembled in context_neon.cpp. Declarations only.
#pragma once

#include "runtime/context.hpp"

namespace fastbp::neon {

const gemm_kernels::KernelTable& gemm_part();  // gemm/kernels/neon/gemm_neon.cpp
const KernelContext& context();                // runtime/kernels/neon/context_neon.cpp

}  // namespace fastbp::neon
