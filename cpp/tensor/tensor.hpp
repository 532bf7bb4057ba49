// Tensor: an owning, 64-byte aligned buffer of float32 or float64 with a shape.
// It holds data and nothing else: no math lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fastbp {

enum class DType { f32, f64 };

// Size in bytes of one element of `dtype`.
std::size_t dtype_size(DType dtype);

// Maps a C++ element type to its DType.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

// Product of `shape`; throws std::length_error on a negative extent, or when the product of
// the non-zero extents times elem_size overflows 64 bits (also for an empty shape).
std::int64_t checked_numel(const std::vector<std::int64_t>& shape, std::size_t elem_size);

class Tensor {
 public:
  // Uninitialised storage; throws std::bad_alloc when memory cannot be had.
  Tensor(std::vector<std::int64_t> shape, DType dtype);
  static Tensor zeros(std::vector<std::int64_t> shape, DType dtype);

  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }

  void* data() { return storage_.get(); }
  const void* data() const { return storage_.get(); }
  template <class T> T* data_as() { return static_cast<T*>(data()); }
  template <class T> const T* data_as() const { return static_cast<const T*>(data()); }

 private:
  std::vector<std::int64_t> shape_;
  DType dtype_;
  std::int64_t numel_;
  std::shared_ptr<void> storage_;  // 64-byte aligned, from and back to buffer_pool
};

}  // namespace fastbp
