#include "runtime/threads.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

namespace fastbp {

namespace {

int default_num_threads() {
  if (!kOpenMP) return 1;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    // "4,2" (nested lists) reads as 4; strtol, unlike atoi, has no undefined overflow
    const long n = std::strtol(env, nullptr, 10);
    if (n >= 1) return static_cast<int>(std::min<long>(n, kMaxThreads));
  }
  int cores = processor_count();
  return std::clamp(cores, 1, kMaxThreads);
}

std::atomic<int>& thread_setting();

// OpenMP's thread pool does not survive fork(): a child that opens a parallel
// region with more than one thread waits forever for workers that were never
// copied. A forked child therefore runs single-threaded until told otherwise.
void after_fork_in_child() { thread_setting().store(1, std::memory_order_relaxed); }

std::atomic<int>& thread_setting() {
  static std::atomic<int> setting{[] {
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
    return default_num_threads();
  }()};
  return setting;
}

}  // namespace

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }

// Without OpenMP every parallel region runs on the calling thread, so the setting stays 1
// (the binding warns when asked for more).
void set_num_threads(int n) {
  thread_setting().store(kOpenMP ? n : 1, std::memory_order_relaxed);
}

int threads_for(double work, double min_work_per_thread) {
  int by_work = static_cast<int>(work / min_work_per_thread);
  return std::max(1, std::min(num_threads(), by_work));
}

}  // namespace fastbp
