// The measured arithmetic peak of this CPU, for `fastbp bench` to report GEMM speed as a
// fraction of it (a nominal peak assumes a clock the cores may not hold).
#pragma once

#include <cstdint>

namespace fastbp {

// float32 GFLOP/s of `threads` threads, each running the active context's peak loop
// (independent chains of its widest multiply-add) for about `seconds`, summed over the
// threads.
double fma_peak_gflops(int threads, double seconds);

// One ISA's peak loop (runtime/kernels/<isa>/, in the kernel context): run `iters` rounds
// of 12 independent multiply-add chains; return the flops done. The chains' results go to
// *sink, so the loop is not optimised away.
using FmaLoop = double (*)(std::int64_t iters, float* sink);

}  // namespace fastbp
