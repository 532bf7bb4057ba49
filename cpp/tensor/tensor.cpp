#include "tensor/tensor.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace fastbp {

namespace {
constexpr std::size_t kAlignment = 64;
// Large buffers ask for transparent huge pages: far fewer page faults on first
// touch (a fresh 4 MiB result otherwise costs ~1000 faults).
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kHugePageThreshold = std::size_t(4) << 20;
}  // namespace

std::size_t dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }

std::int64_t checked_numel(const std::vector<std::int64_t>& shape, std::size_t elem_size) {
  const std::int64_t max_elems =
      std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(elem_size);
  std::int64_t n = 1;
  for (std::int64_t extent : shape) {
    if (extent < 0) throw std::length_error("negative extent " + std::to_string(extent));
    if (extent != 0 && n > max_elems / extent)
      throw std::length_error("tensor size overflows a 64-bit byte count");
    n *= extent;
  }
  return n;
}

void* aligned_alloc_bytes(std::size_t nbytes) {
  // std::aligned_alloc needs a size that is a multiple of the alignment.
  const std::size_t align = nbytes >= kHugePageThreshold ? kHugePage : kAlignment;
  std::size_t rounded = (nbytes + align - 1) / align * align;
  if (rounded < nbytes) throw std::bad_alloc();
  if (rounded == 0) rounded = align;
  void* ptr = std::aligned_alloc(align, rounded);
  if (ptr == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(ptr, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  return ptr;
}

void aligned_free(void* ptr) { std::free(ptr); }

Tensor::Tensor(std::vector<std::int64_t> shape, DType dtype)
    : shape_(std::move(shape)), dtype_(dtype), numel_(checked_numel(shape_, dtype_size(dtype))),
      storage_(aligned_alloc_bytes(nbytes()), aligned_free) {}

Tensor Tensor::zeros(std::vector<std::int64_t> shape, DType dtype) {
  Tensor t(std::move(shape), dtype);
  std::memset(t.data(), 0, t.nbytes());
  return t;
}

}  // namespace fastbp
