// Inverted-dropout bindings: checks, then the core with the GIL released.
#include "bindings/common.hpp"
#include "ops/dropout.hpp"

namespace fastbp::bind {

namespace {

py::tuple dropout_forward_binding(py::handle x_obj, double p, std::uint64_t seed) {
  FloatArg x = float_arg(x_obj, "x");
  if (!(p >= 0.0 && p <= 1.0))
    throw py::value_error("p must be in [0, 1], got " + std::to_string(p));
  Tensor out(x.shape, x.dtype), mask(x.shape, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    dropout_forward<T>(out.data_as<T>(), mask.data_as<T>(), x.data<T>(), x.numel(), p, seed);
  });
  return py::make_tuple(to_numpy(std::move(out)), to_numpy(std::move(mask)));
}

py::array dropout_backward_binding(py::handle dout_obj, py::handle mask_obj) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg mask = float_arg(mask_obj, "mask");
  require_same_dtype(dout, mask);
  require_shape(dout, mask.shape);
  Tensor dx(dout.shape, dout.dtype);
  dispatch_dtype(dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    dropout_backward<T>(dx.data_as<T>(), dout.data<T>(), mask.data<T>(), dout.numel());
  });
  return to_numpy(std::move(dx));
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("dropout_forward", &dropout_forward_binding, py::arg("x"), py::arg("p"), py::arg("seed"),
        "(out, mask) of inverted dropout; mask is 0 or 1 / (1 - p).");
  m.def("dropout_backward", &dropout_backward_binding, py::arg("dout"), py::arg("mask"),
        "dx = dout * mask.");
}

}  // namespace fastbp::bind
