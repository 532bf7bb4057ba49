#include "tensor/tensor.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "tensor/buffer_pool.hpp"

namespace fastbp {

std::size_t dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }

std::int64_t checked_numel(const std::vector<std::int64_t>& shape, std::size_t elem_size) {
  const std::int64_t max_elems =
      std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(elem_size);
  // The product of the non-zero extents must fit too: strides and partial products (H * W)
  // are formed from them even when another extent is 0 and the tensor is empty.
  std::int64_t n = 1, nonzero = 1;
  for (std::int64_t extent : shape) {
    if (extent < 0) throw std::length_error("negative extent " + std::to_string(extent));
    if (extent != 0 && nonzero > max_elems / extent)
      throw std::length_error("tensor size overflows a 64-bit byte count");
    if (extent != 0) nonzero *= extent;
    n *= extent;
  }
  return n;
}

Tensor::Tensor(std::vector<std::int64_t> shape, DType dtype)
    : shape_(std::move(shape)), dtype_(dtype), numel_(checked_numel(shape_, dtype_size(dtype))) {
  const std::size_t n = nbytes();
  storage_ = std::shared_ptr<void>(buffer_pool::acquire(n),
                                   [n](void* ptr) { buffer_pool::release(ptr, n); });
}

Tensor Tensor::zeros(std::vector<std::int64_t> shape, DType dtype) {
  Tensor t(std::move(shape), dtype);
  std::memset(t.data(), 0, t.nbytes());
  return t;
}

}  // namespace fastbp
