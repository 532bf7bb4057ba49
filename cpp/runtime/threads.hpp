// The thread count every parallel region in fastbp uses.
// A process-wide setting (not OpenMP's per-thread ICV), so a value set from one
// Python thread holds for calls made from any other.
#pragma once

#include <cstdint>

#include "runtime/openmp.hpp"

namespace fastbp {

// The most threads fastbp uses: more would not speed up any op, and tens of thousands make
// OpenMP fail to create them (or crash). set_num_threads refuses more (its caller raises);
// an OMP_NUM_THREADS above it is clamped to it.
constexpr int kMaxThreads = 1024;

// Threads used by parallel regions; default: OMP_NUM_THREADS (at most kMaxThreads), else
// the core count. In a child made by fork() it starts at 1 (OpenMP's pool does not survive
// fork). Always 1 in a build without OpenMP (set_num_threads then keeps it at 1).
int num_threads();
void set_num_threads(int n);  // 1 <= n <= kMaxThreads, checked by the caller

// Threads worth using for `work` units (flops or elements) where one thread
// should get at least `min_work_per_thread`; 1 for small problems.
int threads_for(double work, double min_work_per_thread);

// body(i) for i in [begin, end), split statically over nt threads (each thread one run of
// consecutive i). With nt == 1 it is a plain loop: libgomp enters even a one-thread
// parallel region with a futex system call, which costs as much as a small operation.
// Each thread calls a private copy of body: what a by-value lambda captured then cannot
// alias the arrays it writes, so its scalars stay in registers and the loop vectorises.
template <class Body>
void parallel_for(int nt, std::int64_t begin, std::int64_t end, const Body& body) {
  if (nt <= 1) {
    const Body local = body;
    for (std::int64_t i = begin; i < end; ++i) local(i);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const Body local = body;
#pragma omp for schedule(static)
    for (std::int64_t i = begin; i < end; ++i) local(i);
  }
}

// body(t, nth) once on each of nt threads (an OpenMP parallel region; orphaned `omp for`
// loops inside share their iterations), or one plain call body(0, 1) when nt == 1.
template <class Body>
void parallel_region(int nt, const Body& body) {
  if (nt <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(nt)
  body(team_thread(), team_size());
}

}  // namespace fastbp
