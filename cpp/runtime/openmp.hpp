// OpenMP's thread queries, or their one-thread answers in a build without OpenMP (Apple's
// clang out of the box, or CMake -DFASTBP_OPENMP=OFF). Without OpenMP the compiler skips
// every `#pragma omp`, so each parallel region is one plain call on the calling thread.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fastbp {

#if defined(_OPENMP)
inline constexpr bool kOpenMP = true;
inline constexpr int kOpenMPVersion = _OPENMP;  // yyyymm of the OpenMP specification
inline int team_thread() { return omp_get_thread_num(); }
inline int team_size() { return omp_get_num_threads(); }
inline int processor_count() { return omp_get_num_procs(); }
#else
inline constexpr bool kOpenMP = false;
inline constexpr int kOpenMPVersion = 0;
inline int team_thread() { return 0; }
inline int team_size() { return 1; }
inline int processor_count() { return 1; }
#endif

}  // namespace fastbp
