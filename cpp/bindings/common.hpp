// Argument checking and array conversion shared by the binding files.
// Only bindings/ includes pybind11; the core never sees Python.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace fastbp::bind {

namespace py = pybind11;

using Shape = std::vector<std::int64_t>;

// "(3, 4)" for error messages.
std::string shape_str(const Shape& shape);

// A float32/float64 NumPy argument, C-contiguous (copied only when it was strided).
struct FloatArg {
  py::array array;  // keeps the data alive
  DType dtype;
  Shape shape;
  const char* name;

  int ndim() const { return static_cast<int>(shape.size()); }
  std::int64_t numel() const;
  template <class T> const T* data() const { return static_cast<const T*>(array.data()); }
};

// Checks `obj` is a float32 or float64 ndarray; anything else raises TypeError
// naming `name`. Strided input is copied to a contiguous buffer.
FloatArg float_arg(py::handle obj, const char* name);

// ValueError unless `arg` has `ndim` dimensions; `legend` names them, e.g. "(N, D)".
void require_ndim(const FloatArg& arg, int ndim, const char* legend);

// ValueError unless arg.shape == expected.
void require_shape(const FloatArg& arg, const Shape& expected);

// TypeError unless both have the same dtype (fastbp never casts silently).
void require_same_dtype(const FloatArg& a, const FloatArg& b);

// An optional bias `b`: nothing for None, else a float array of shape (n,) and like's dtype.
std::optional<FloatArg> optional_bias(py::handle obj, const FloatArg& like, std::int64_t n);

// An integer NumPy array as a private, contiguous int64 copy (bool and floats raise
// TypeError). Always a copy, never the caller's buffer: the values checked while the GIL
// is held are the values the core reads after releasing it, even if another thread
// changes the caller's array meanwhile.
struct IndexArg {
  py::array_t<std::int64_t, py::array::c_style> array;
  Shape shape;
  const std::int64_t* data() const { return array.data(); }
};
IndexArg index_arg(py::handle obj, const char* name);

// One array the core reads or writes: its bytes [data, data + nbytes).
struct Span {
  const void* data;
  std::size_t nbytes;
  std::string name;  // "param", "grads[3]", ...
  bool written;
};
Span span_of(const FloatArg& arg, bool written, std::string name = {});

// ValueError naming both arrays when the bytes of an array the core writes overlap those
// of any other array of the call (the core reads and writes them in an order of its own, so
// the result would differ from the twin's). Read-only arrays may share memory.
void require_disjoint(std::vector<Span> spans);

// Hands a tensor to NumPy without a copy; the array keeps the storage alive.
py::array to_numpy(Tensor&& tensor);

// An uninitialised C-contiguous int64 array whose storage comes from the buffer pool.
py::array_t<std::int64_t> pooled_index_array(const Shape& shape);

// Calls fn(float{}) or fn(double{}) as `dtype` says; inside, `using T = decltype(tag);`.
template <class Fn>
decltype(auto) dispatch_dtype(DType dtype, Fn&& fn) {
  if (dtype == DType::f32) return fn(float{});
  return fn(double{});
}

}  // namespace fastbp::bind
