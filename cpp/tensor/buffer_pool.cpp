#include "tensor/buffer_pool.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FASTBP_POISON(ptr, n) ASAN_POISON_MEMORY_REGION(ptr, n)
#define FASTBP_UNPOISON(ptr, n) ASAN_UNPOISON_MEMORY_REGION(ptr, n)
#else
#define FASTBP_POISON(ptr, n) ((void)(ptr), (void)(n))
#define FASTBP_UNPOISON(ptr, n) ((void)(ptr), (void)(n))
#endif

namespace fastbp::buffer_pool {

namespace {

constexpr std::size_t kAlignment = 64;
// Large buffers ask for transparent huge pages: far fewer page faults on first touch.
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kHugePageThreshold = std::size_t(4) << 20;

std::size_t alignment_for(std::size_t nbytes) {
  return nbytes >= kHugePageThreshold ? kHugePage : kAlignment;
}

// The size actually allocated: a multiple of the alignment (std::aligned_alloc needs it),
// never 0. Buffers of equal rounded size are interchangeable.
std::size_t rounded_size(std::size_t nbytes) {
  const std::size_t align = alignment_for(nbytes);
  const std::size_t rounded = (nbytes + align - 1) / align * align;
  if (rounded < nbytes) throw std::bad_alloc();  // wrapped around
  return rounded == 0 ? align : rounded;
}

void* system_alloc(std::size_t nbytes) {
  const std::size_t align = alignment_for(nbytes);
  const std::size_t size = rounded_size(nbytes);
  void* ptr = std::aligned_alloc(align, size);
  if (ptr == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(ptr, size, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  return ptr;
}

struct Cached {
  void* ptr;
  std::size_t size;  // rounded
};

struct Pool {
  std::mutex mutex;
  std::vector<Cached> buffers;  // oldest first
  std::size_t bytes = 0;
};

void lock_for_fork();
void unlock_after_fork();

Pool& pool() {
  static Pool* instance = [] {
    pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
    Pool* created = new Pool();  // never destroyed: buffers are released until exit
    created->buffers.reserve(kMaxCachedBuffers + 1);
    return created;
  }();
  return *instance;
}

// A fork while another thread holds the lock would leave the child's copy locked forever.
void lock_for_fork() { pool().mutex.lock(); }
void unlock_after_fork() { pool().mutex.unlock(); }

}  // namespace

void* acquire(std::size_t nbytes) {
  if (nbytes < kMinPooledBytes) return system_alloc(nbytes);
  const std::size_t size = rounded_size(nbytes);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    for (std::size_t i = p.buffers.size(); i-- > 0;) {  // the newest match: warmest in cache
      if (p.buffers[i].size != size) continue;
      void* ptr = p.buffers[i].ptr;
      p.buffers.erase(p.buffers.begin() + static_cast<std::ptrdiff_t>(i));
      p.bytes -= size;
      FASTBP_UNPOISON(ptr, size);
      return ptr;
    }
  }
  return system_alloc(nbytes);
}

void release(void* ptr, std::size_t nbytes) noexcept {
  if (ptr == nullptr) return;
  const std::size_t size = rounded_size(nbytes);  // cannot throw: acquire rounded it before
  if (nbytes < kMinPooledBytes || size > kMaxCachedBytes) {
    std::free(ptr);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  FASTBP_POISON(ptr, size);
  p.buffers.push_back({ptr, size});  // no reallocation: capacity reserved for one extra
  p.bytes += size;
  std::size_t drop = 0;  // the oldest, until within both limits
  while (p.bytes > kMaxCachedBytes || p.buffers.size() - drop > kMaxCachedBuffers) {
    const Cached& old = p.buffers[drop++];
    p.bytes -= old.size;
    FASTBP_UNPOISON(old.ptr, old.size);
    std::free(old.ptr);
  }
  p.buffers.erase(p.buffers.begin(), p.buffers.begin() + static_cast<std::ptrdiff_t>(drop));
}

std::size_t cached_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.bytes;
}

std::size_t empty_cache() {
  std::vector<Cached> freed;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    freed.swap(p.buffers);
    p.bytes = 0;
  }
  std::size_t total = 0;
  for (const Cached& c : freed) {
    FASTBP_UNPOISON(c.ptr, c.size);
    std::free(c.ptr);
    total += c.size;
  }
  return total;
}

}  // namespace fastbp::buffer_pool
