// Optimizer update bindings: checks (in-place buffers must be writable and
// C-contiguous, never silently copied), then the core with the GIL released.
#include "bindings/common.hpp"
#include "ops/optim_update.hpp"

namespace fastbp::bind {

namespace {

// An array the core reads in place: C-contiguous (and aligned) already, so no copy is made.
FloatArg contiguous_arg(py::handle obj, const char* name) {
  FloatArg a = float_arg(obj, name);
  if (!a.array.is(obj))
    throw py::value_error(std::string(name) +
                          " must be a C-contiguous array (it is used in place, not copied)");
  return a;
}

// An array the core writes in place: C-contiguous and writable.
FloatArg inplace_arg(py::handle obj, const char* name) {
  FloatArg a = contiguous_arg(obj, name);
  if (!a.array.writeable())
    throw py::value_error(std::string(name) + " must be writable (it is updated in place)");
  return a;
}

void sgd_update_binding(py::handle param_obj, py::handle grad_obj, py::handle buf_obj, double lr,
                        double momentum, bool nesterov, double weight_decay) {
  FloatArg param = inplace_arg(param_obj, "param");
  FloatArg grad = contiguous_arg(grad_obj, "grad");
  require_same_dtype(param, grad);
  require_shape(grad, param.shape);
  std::optional<FloatArg> buf;
  if (momentum != 0.0) {
    if (buf_obj.is_none())
      throw py::value_error("buf (the momentum buffer) is required when momentum != 0, got None");
    buf = inplace_arg(buf_obj, "buf");
    require_same_dtype(param, *buf);
    require_shape(*buf, param.shape);
  }
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param.array.mutable_data());
    T* b = buf ? static_cast<T*>(buf->array.mutable_data()) : nullptr;
    py::gil_scoped_release release;
    sgd_update<T>(p, grad.data<T>(), b, param.numel(), static_cast<T>(lr), static_cast<T>(momentum),
                  nesterov, static_cast<T>(weight_decay));
  });
}

double l2_penalty_accumulate_binding(py::handle grad_obj, py::handle w_obj, double reg) {
  FloatArg grad = inplace_arg(grad_obj, "grad");
  FloatArg w = float_arg(w_obj, "w");
  require_same_dtype(w, grad);
  require_shape(grad, w.shape);
  return dispatch_dtype(w.dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    T* g = static_cast<T*>(grad.array.mutable_data());
    py::gil_scoped_release release;
    return l2_penalty_accumulate<T>(g, w.data<T>(), w.numel(), static_cast<T>(reg));
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("sgd_update", &sgd_update_binding, py::arg("param"), py::arg("grad"), py::arg("buf"),
        py::kw_only(), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("nesterov") = false,
        py::arg("weight_decay") = 0.0,
        "One SGD step in place on param (and buf when momentum != 0); returns None.");
  m.def("l2_penalty_accumulate", &l2_penalty_accumulate_binding, py::arg("grad"), py::arg("w"),
        py::arg("reg"), "grad += reg * w in place; returns 0.5 * reg * sum(w**2).");
}

}  // namespace fastbp::bind
