// The measured arithmetic peak of this CPU, for `fastbp bench` to report GEMM speed as a
// fraction of it (a nominal peak assumes a clock the cores may not hold).
#pragma once

#include <cstdint>

namespace fastbp {

// float32 GFLOP/s of `threads` threads, each running independent chains of the active
// ISA's widest multiply-add (FMA on ymm or zmm registers; SSE multiply and add for
// generic) for about `seconds`, summed over the threads.
double fma_peak_gflops(int threads, double seconds);

namespace fma_loops {
// Run `iters` rounds of 12 independent multiply-add chains; return the flops done. The
// chains' results go to *sink, so the loop is not optimised away.
double generic(std::int64_t iters, float* sink);
double avx2(std::int64_t iters, float* sink);    // kernels/avx2/fma_loop_avx2.cpp
double avx512(std::int64_t iters, float* sink);  // kernels/avx512/fma_loop_avx512.cpp
}  // namespace fma_loops

}  // namespace fastbp
