// The thread count every parallel region in fastbp uses.
// A process-wide setting (not OpenMP's per-thread ICV), so a value set from one
// Python thread holds for calls made from any other.
#pragma once

#include <cstdint>

namespace fastbp {

// Threads used by parallel regions; default: OMP_NUM_THREADS, else the core count.
// In a child made by fork() it starts at 1 (OpenMP's pool does not survive fork).
int num_threads();
void set_num_threads(int n);  // n >= 1, checked by the caller

// Threads worth using for `work` units (flops or elements) where one thread
// should get at least `min_work_per_thread`; 1 for small problems.
int threads_for(double work, double min_work_per_thread);

}  // namespace fastbp
