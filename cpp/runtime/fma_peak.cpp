#include "runtime/fma_peak.hpp"

#include <algorithm>
#include <chrono>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "runtime/cpu.hpp"

namespace fastbp {

namespace fma_loops {

double generic(std::int64_t iters, float* sink) {
#if defined(__SSE2__)
  __m128 acc[12];  // multiply and add: SSE2 has no fused form
  for (int i = 0; i < 12; ++i) acc[i] = _mm_set1_ps(static_cast<float>(i));
  const __m128 scale = _mm_set1_ps(0.999999f), shift = _mm_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = _mm_add_ps(_mm_mul_ps(a, scale), shift);
  __m128 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm_add_ps(total, acc[i]);
  *sink = _mm_cvtss_f32(total);
  return static_cast<double>(iters) * 12 * 4 * 2;
#else
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = static_cast<float>(i);
  for (std::int64_t it = 0; it < iters; ++it)
    for (auto& a : acc) a = a * 0.999999f + 1e-7f;
  *sink = acc[0];
  return static_cast<double>(iters) * 12 * 2;
#endif
}

}  // namespace fma_loops

namespace {

using Loop = double (*)(std::int64_t, float*);

Loop active_loop() {
  switch (active_isa()) {
    case Isa::avx512: return &fma_loops::avx512;
    case Isa::avx2: return &fma_loops::avx2;
    default: return &fma_loops::generic;
  }
}

// Seconds for all `threads` threads to run `iters` rounds each; total flops in *flops.
// Without OpenMP the region is one call: one thread's flops.
double timed_run(Loop loop, [[maybe_unused]] int threads, std::int64_t iters, double* flops) {
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
  const Loop loop = active_loop();
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
