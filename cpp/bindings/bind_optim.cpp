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

// sgd_update over lists of parameters in one call (what SGD.step does each step): every
// array is checked before any is changed, then all are updated with the GIL released once.
void sgd_update_many_binding(py::handle params_obj, py::handle grads_obj, py::handle bufs_obj,
                             double lr, double momentum, bool nesterov, double weight_decay) {
  const auto as_list = [](py::handle obj, const char* name) {
    if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
      throw py::type_error(std::string(name) + " must be a list or tuple of arrays, got " +
                           py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
    return py::reinterpret_borrow<py::sequence>(obj);
  };
  const py::sequence params = as_list(params_obj, "params"), grads = as_list(grads_obj, "grads");
  const std::size_t count = params.size();
  if (grads.size() != count)
    throw py::value_error("params and grads must have the same length, got " +
                          std::to_string(count) + " and " + std::to_string(grads.size()));
  std::optional<py::sequence> bufs;
  if (momentum != 0.0) {
    if (bufs_obj.is_none())
      throw py::value_error("bufs (the momentum buffers) are required when momentum != 0, got None");
    bufs = as_list(bufs_obj, "bufs");
    if (bufs->size() != count)
      throw py::value_error("params and bufs must have the same length, got " +
                            std::to_string(count) + " and " + std::to_string(bufs->size()));
  }
  std::vector<std::string> names;  // "params[3]", ...: the errors name the entry
  names.reserve(3 * count);
  std::vector<FloatArg> args;  // param, grad, buf (when momentum) per entry
  args.reserve(3 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string index = "[" + std::to_string(i) + "]";
    names.push_back("params" + index);
    FloatArg param = inplace_arg(params[i], names.back().c_str());
    names.push_back("grads" + index);
    FloatArg grad = contiguous_arg(grads[i], names.back().c_str());
    require_same_dtype(param, grad);
    require_shape(grad, param.shape);
    if (bufs) {
      names.push_back("bufs" + index);
      FloatArg buf = inplace_arg((*bufs)[i], names.back().c_str());
      require_same_dtype(param, buf);
      require_shape(buf, param.shape);
      args.push_back(std::move(buf));
    }
    args.push_back(std::move(param));
    args.push_back(std::move(grad));
  }
  struct Update {
    DType dtype;
    void* param;
    const void* grad;
    void* buf;
    std::int64_t n;
  };
  std::vector<Update> updates;
  const std::size_t stride = bufs ? 3 : 2;
  for (std::size_t i = 0; i < count; ++i) {
    FloatArg* entry = &args[i * stride];  // [buf,] param, grad
    FloatArg& param = entry[stride - 2];
    updates.push_back({param.dtype, param.array.mutable_data(), entry[stride - 1].array.data(),
                       bufs ? entry[0].array.mutable_data() : nullptr, param.numel()});
  }
  py::gil_scoped_release release;
  for (const Update& u : updates) {
    dispatch_dtype(u.dtype, [&](auto tag) {
      using T = decltype(tag);
      sgd_update<T>(static_cast<T*>(u.param), static_cast<const T*>(u.grad),
                    static_cast<T*>(u.buf), u.n, static_cast<T>(lr), static_cast<T>(momentum),
                    nesterov, static_cast<T>(weight_decay));
    });
  }
}

// A state buffer of `param`'s shape and dtype, updated in place.
FloatArg state_arg(py::handle obj, const char* name, const FloatArg& param) {
  FloatArg a = inplace_arg(obj, name);
  require_same_dtype(param, a);
  require_shape(a, param.shape);
  return a;
}

// Optional state buffer: checked when `needed` (then None raises naming `why`).
std::optional<FloatArg> optional_state_arg(py::handle obj, const char* name, const FloatArg& param,
                                           bool needed, const char* why) {
  if (!needed) return std::nullopt;
  if (obj.is_none())
    throw py::value_error(std::string(name) + " is required when " + why + ", got None");
  return state_arg(obj, name, param);
}

template <class T> T* mutable_ptr(FloatArg& a) { return static_cast<T*>(a.array.mutable_data()); }
template <class T> T* mutable_ptr(std::optional<FloatArg>& a) {
  return a ? mutable_ptr<T>(*a) : nullptr;
}

std::int64_t step_arg(std::int64_t step) {
  if (step < 1) throw py::value_error("step must be >= 1 (the step being taken), got " +
                                      std::to_string(step));
  return step;
}

void adagrad_update_binding(py::handle param_obj, py::handle grad_obj, py::handle sum_obj,
                            std::int64_t step, double lr, double lr_decay, double eps,
                            double weight_decay) {
  step_arg(step);
  FloatArg param = inplace_arg(param_obj, "param");
  FloatArg grad = contiguous_arg(grad_obj, "grad");
  require_same_dtype(param, grad);
  require_shape(grad, param.shape);
  FloatArg sum = state_arg(sum_obj, "sum", param);
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    adagrad_update<T>(mutable_ptr<T>(param), grad.data<T>(), mutable_ptr<T>(sum), param.numel(),
                      step, lr, lr_decay, static_cast<T>(eps), static_cast<T>(weight_decay));
  });
}

void rmsprop_update_binding(py::handle param_obj, py::handle grad_obj, py::handle sq_obj,
                            py::handle grad_avg_obj, py::handle buf_obj, double lr, double alpha,
                            double eps, double weight_decay, double momentum, bool centered) {
  FloatArg param = inplace_arg(param_obj, "param");
  FloatArg grad = contiguous_arg(grad_obj, "grad");
  require_same_dtype(param, grad);
  require_shape(grad, param.shape);
  FloatArg sq = state_arg(sq_obj, "square_avg", param);
  auto grad_avg = optional_state_arg(grad_avg_obj, "grad_avg", param, centered, "centered");
  auto buf = optional_state_arg(buf_obj, "buf", param, momentum != 0.0, "momentum != 0");
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    rmsprop_update<T>(mutable_ptr<T>(param), grad.data<T>(), mutable_ptr<T>(sq),
                      mutable_ptr<T>(grad_avg), mutable_ptr<T>(buf), param.numel(),
                      static_cast<T>(lr), static_cast<T>(alpha), static_cast<T>(eps),
                      static_cast<T>(weight_decay), static_cast<T>(momentum));
  });
}

void adam_update_binding(py::handle param_obj, py::handle grad_obj, py::handle m_obj,
                         py::handle v_obj, py::handle vmax_obj, std::int64_t step, double lr,
                         double beta1, double beta2, double eps, double weight_decay,
                         bool amsgrad, bool decoupled) {
  step_arg(step);
  if (!(beta1 >= 0.0 && beta1 < 1.0)) throw py::value_error("beta1 must be in [0, 1), got " +
                                                            std::to_string(beta1));
  if (!(beta2 >= 0.0 && beta2 < 1.0)) throw py::value_error("beta2 must be in [0, 1), got " +
                                                            std::to_string(beta2));
  FloatArg param = inplace_arg(param_obj, "param");
  FloatArg grad = contiguous_arg(grad_obj, "grad");
  require_same_dtype(param, grad);
  require_shape(grad, param.shape);
  FloatArg m = state_arg(m_obj, "exp_avg", param);
  FloatArg v = state_arg(v_obj, "exp_avg_sq", param);
  auto vmax = optional_state_arg(vmax_obj, "max_exp_avg_sq", param, amsgrad, "amsgrad");
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    adam_update<T>(mutable_ptr<T>(param), grad.data<T>(), mutable_ptr<T>(m), mutable_ptr<T>(v),
                   mutable_ptr<T>(vmax), param.numel(), step, lr, beta1, beta2,
                   static_cast<T>(eps), weight_decay, decoupled);
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
  m.def("sgd_update_many", &sgd_update_many_binding, py::arg("params"), py::arg("grads"),
        py::arg("bufs"), py::kw_only(), py::arg("lr"), py::arg("momentum") = 0.0,
        py::arg("nesterov") = false, py::arg("weight_decay") = 0.0,
        "sgd_update on each (params[i], grads[i], bufs[i]); all checked before any update.");
  m.def("adagrad_update", &adagrad_update_binding, py::arg("param"), py::arg("grad"),
        py::arg("sum"), py::kw_only(), py::arg("step"), py::arg("lr") = 1e-2,
        py::arg("lr_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("weight_decay") = 0.0,
        "One AdaGrad step in place on param and sum; returns None.");
  m.def("rmsprop_update", &rmsprop_update_binding, py::arg("param"), py::arg("grad"),
        py::arg("square_avg"), py::arg("grad_avg") = py::none(), py::arg("buf") = py::none(),
        py::kw_only(), py::arg("lr") = 1e-2, py::arg("alpha") = 0.99, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0, py::arg("centered") = false,
        "One RMSprop step in place on param and its state; returns None.");
  m.def("adam_update", &adam_update_binding, py::arg("param"), py::arg("grad"),
        py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq") = py::none(),
        py::kw_only(), py::arg("step"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9,
        py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("amsgrad") = false, py::arg("decoupled_weight_decay") = false,
        "One Adam (AdamW when decoupled_weight_decay) step in place; returns None.");
  m.def("l2_penalty_accumulate", &l2_penalty_accumulate_binding, py::arg("grad"), py::arg("w"),
        py::arg("reg"), "grad += reg * w in place; returns 0.5 * reg * sum(w**2).");
}

}  // namespace fastbp::bind
