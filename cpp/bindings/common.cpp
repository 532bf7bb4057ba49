#include "bindings/common.hpp"

#include <algorithm>
#include <cstring>

#include "tensor/buffer_pool.hpp"

namespace fastbp::bind {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::int64_t FloatArg::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

namespace {

std::string type_description(py::handle obj) {
  if (py::isinstance<py::array>(obj))
    return "array of dtype " + py::str(obj.attr("dtype")).cast<std::string>();
  return py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
}

Shape shape_of(const py::array& a) {
  return Shape(a.shape(), a.shape() + a.ndim());
}

}  // namespace

FloatArg float_arg(py::handle obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy.ndarray of float32 or float64, got " +
                         type_description(obj));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  DType dtype;
  if (arr.dtype().is(py::dtype::of<float>())) {
    dtype = DType::f32;
  } else if (arr.dtype().is(py::dtype::of<double>())) {
    dtype = DType::f64;
  } else if (py::dtype::of<float>().equal(arr.dtype())) {
    dtype = DType::f32;
  } else if (py::dtype::of<double>().equal(arr.dtype())) {
    dtype = DType::f64;
  } else {
    throw py::type_error(std::string(name) + " must be float32 or float64, got " +
                         type_description(obj));
  }
  // Same dtype, so this only copies when the layout is not C-contiguous or aligned; the
  // common case, already both, skips NumPy's conversion machinery (a third of a small
  // op's call overhead).
  constexpr int kInPlace = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
                           py::detail::npy_api::NPY_ARRAY_ALIGNED_;
  py::array contiguous =
      (arr.flags() & kInPlace) == kInPlace ? arr
      : dtype == DType::f32 ? py::array(py::array_t<float, kInPlace>::ensure(arr))
                            : py::array(py::array_t<double, kInPlace>::ensure(arr));
  if (!contiguous) throw py::error_already_set();
  return FloatArg{contiguous, dtype, shape_of(contiguous), name};
}

void require_ndim(const FloatArg& arg, int ndim, const char* legend) {
  if (arg.ndim() != ndim)
    throw py::value_error(std::string(arg.name) + " must be " + std::to_string(ndim) + "-D " +
                          legend + ", got shape " + shape_str(arg.shape));
}

void require_shape(const FloatArg& arg, const Shape& expected) {
  if (arg.shape != expected)
    throw py::value_error(std::string(arg.name) + " must have shape " + shape_str(expected) +
                          ", got " + shape_str(arg.shape));
}

void require_same_dtype(const FloatArg& a, const FloatArg& b) {
  if (a.dtype != b.dtype)
    throw py::type_error(std::string(a.name) + " and " + b.name +
                         " must have the same dtype, got " +
                         (a.dtype == DType::f32 ? "float32" : "float64") + " and " +
                         (b.dtype == DType::f32 ? "float32" : "float64"));
}

std::optional<FloatArg> optional_bias(py::handle obj, const FloatArg& like, std::int64_t n) {
  if (obj.is_none()) return std::nullopt;
  FloatArg b = float_arg(obj, "b");
  require_same_dtype(like, b);
  require_shape(b, {n});
  return b;
}

IndexArg index_arg(py::handle obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy.ndarray of integers, got " +
                         type_description(obj));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  const char kind = arr.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::type_error(std::string(name) + " must hold integers, got " + type_description(obj));
  if (kind == 'u' && arr.dtype().itemsize() == 8) {
    // uint64 values above 2**63 would wrap to negatives; a value check is cheaper than a cast error.
    auto max = arr.attr("max")(py::arg("initial") = 0);
    if (max.cast<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      throw py::value_error(std::string(name) + " holds a value too large for int64");
  }
  auto converted = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
  if (!converted) throw py::error_already_set();
  // ensure() hands back the caller's own buffer when it is already int64 and C-contiguous
  // (or a view of it, for a subclass): copy it, so that no other thread can change the
  // values between the caller's checks and the core's reads.
  py::array_t<std::int64_t, py::array::c_style> owned(shape_of(converted));
  if (converted.size() > 0)
    std::memcpy(owned.mutable_data(), converted.data(),
                static_cast<std::size_t>(converted.size()) * sizeof(std::int64_t));
  return IndexArg{owned, shape_of(owned)};
}

Span span_of(const FloatArg& arg, bool written, std::string name) {
  const std::size_t nbytes = static_cast<std::size_t>(arg.array.nbytes());
  return Span{arg.array.data(), nbytes, name.empty() ? std::string(arg.name) : std::move(name),
              written};
}

void require_disjoint(std::vector<Span> spans) {
  spans.erase(std::remove_if(spans.begin(), spans.end(),
                             [](const Span& s) { return s.nbytes == 0; }),
              spans.end());
  const auto begin = [](const Span& s) { return reinterpret_cast<std::uintptr_t>(s.data); };
  std::sort(spans.begin(), spans.end(),
            [&](const Span& a, const Span& b) { return begin(a) < begin(b); });
  // Sorted by start, a span overlaps an earlier one iff it starts before the largest end so
  // far: tracked over all spans and over the written ones.
  const Span* reach_any = nullptr;      // the span that ends last so far
  const Span* reach_written = nullptr;  // the written span that ends last so far
  const auto end = [&](const Span* s) { return s ? begin(*s) + s->nbytes : 0; };
  for (const Span& s : spans) {
    const Span* other = nullptr;
    if (begin(s) < end(reach_written)) other = reach_written;
    else if (s.written && begin(s) < end(reach_any)) other = reach_any;
    if (other != nullptr)
      throw py::value_error(other->name + " and " + s.name +
                            " overlap in memory (one is written in place); pass separate "
                            "arrays");
    if (end(&s) > end(reach_any)) reach_any = &s;
    if (s.written && end(&s) > end(reach_written)) reach_written = &s;
  }
}

py::array_t<std::int64_t> pooled_index_array(const Shape& shape) {
  const std::size_t nbytes =
      static_cast<std::size_t>(checked_numel(shape, sizeof(std::int64_t))) * sizeof(std::int64_t);
  struct Owned {
    void* data;
    std::size_t nbytes;
  };
  void* data = buffer_pool::acquire(nbytes);
  Owned* owned = nullptr;
  py::capsule owner;
  try {
    owned = new Owned{data, nbytes};
    owner = py::capsule(owned, [](void* p) {
      auto* o = static_cast<Owned*>(p);
      buffer_pool::release(o->data, o->nbytes);
      delete o;
    });
  } catch (...) {  // the capsule never took ownership
    delete owned;
    buffer_pool::release(data, nbytes);
    throw;
  }
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return py::array_t<std::int64_t>(dims, static_cast<std::int64_t*>(data), owner);
}

py::array to_numpy(Tensor&& tensor) {
  auto* owned = new Tensor(std::move(tensor));
  py::capsule owner(owned, [](void* p) { delete static_cast<Tensor*>(p); });
  // Dimensions and strides on the stack, straight to NumPy's constructor: py::array's
  // own constructor copies them through heap vectors, a cost every small op paid.
  constexpr int kMaxDims = 64;  // NumPy's limit (32 before NumPy 2)
  const int ndim = static_cast<int>(owned->shape().size());
  if (ndim > kMaxDims)
    throw py::value_error("result has " + std::to_string(ndim) + " dimensions, more than " +
                          std::to_string(kMaxDims));
  Py_intptr_t dims[kMaxDims], strides[kMaxDims];
  Py_intptr_t stride = static_cast<Py_intptr_t>(dtype_size(owned->dtype()));
  for (int i = ndim; i-- > 0;) {
    dims[i] = static_cast<Py_intptr_t>(owned->shape()[static_cast<std::size_t>(i)]);
    strides[i] = stride;
    stride *= dims[i] > 0 ? dims[i] : 1;
  }
  py::dtype dt = owned->dtype() == DType::f32 ? py::dtype::of<float>() : py::dtype::of<double>();
  const auto& api = py::detail::npy_api::get();
  PyObject* raw = api.PyArray_NewFromDescr_(api.PyArray_Type_, dt.release().ptr(), ndim, dims,
                                            strides, owned->data(),
                                            py::detail::npy_api::NPY_ARRAY_WRITEABLE_, nullptr);
  if (raw == nullptr) throw py::error_already_set();  // the capsule still frees the tensor
  auto result = py::reinterpret_steal<py::array>(raw);
  // The array takes the capsule's reference (also when this fails).
  if (api.PyArray_SetBaseObject_(raw, owner.release().ptr()) != 0) throw py::error_already_set();
  return result;
}

}  // namespace fastbp::bind
