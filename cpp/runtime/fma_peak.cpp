#include "runtime/fma_peak.hpp"

#include <algorithm>
#include <chrono>

#include "runtime/context.hpp"

namespace fastbp {

namespace {

// Seconds for all `threads` threads to run `iters` rounds each; total flops in *flops.
// Without OpenMP the region is one call: one thread's flops.
double timed_run(FmaLoop loop, [[maybe_unused]] int threads, std::int64_t iters,
                 double* flops) {
  double done = 0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : done)
  {
    float sink;  // the loop lives in another unit, so it cannot be optimised away
    done += loop(iters, &sink);
  }
  *flops = done;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double fma_peak_gflops(int threads, double seconds) {
  const FmaLoop loop = kernel_context().fma_loop;
  threads = std::max(1, threads);
  double flops = 0;
  // Size the run from a short one, then keep the best of three.
  std::int64_t iters = 1 << 16;
  const double probe = std::max(timed_run(loop, threads, iters, &flops), 1e-6);
  iters = std::max<std::int64_t>(iters, static_cast<std::int64_t>(iters * seconds / 3 / probe));
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t = timed_run(loop, threads, iters, &flops);
    best = std::max(best, flops / t / 1e9);
  }
  return best;
}

}  // namespace fastbp
