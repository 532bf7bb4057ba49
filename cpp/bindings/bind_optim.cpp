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
                          " must be a C-contiguous and aligned array (it is used in place, "
                          "not copied)");
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
  require_disjoint({span_of(param, true), span_of(grad, false),
                    buf ? span_of(*buf, true) : Span{}});
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param.array.mutable_data());
    T* b = buf ? static_cast<T*>(buf->array.mutable_data()) : nullptr;
    py::gil_scoped_release release;
    sgd_update<T>(p, grad.data<T>(), b, param.numel(), static_cast<T>(lr), static_cast<T>(momentum),
                  nesterov, static_cast<T>(weight_decay));
  });
}

// One list argument of an *_update_many call: a list or tuple with an array per
// parameter, or None where the update does not use it.
struct ListArg {
  const char* name;  // "params", "grads", "bufs", ...
  py::handle obj;
  bool in_place;     // updated in place (else only read)
  bool needed;       // false: ignored, may be None
  const char* when;  // why it is needed, for the error on None ("momentum != 0")
};

constexpr std::size_t kMaxLists = 5;

// The arrays of parameter i, in the order of the ListArgs (null where not needed).
struct BatchEntry {
  DType dtype;
  std::int64_t n;
  std::array<void*, kMaxLists> data;
  template <class T> T* at(std::size_t k) const { return static_cast<T*>(data[k]); }
};

struct Batch {
  std::vector<BatchEntry> entries;
  std::vector<py::array> alive;  // a reference to every array, while the GIL is released
};

// What every *_update_many call checks before it changes anything (at most kMaxLists
// lists): lists[0] are the parameters (written), each list as long as it, and every array
// of its parameter's dtype and shape, C-contiguous, and writable where it is updated in
// place. Errors name the entry ("grads[3]").
Batch checked_batch(const std::vector<ListArg>& lists) {
  std::vector<py::sequence> seqs(lists.size());
  for (std::size_t k = 0; k < lists.size(); ++k) {
    const ListArg& list = lists[k];
    if (!list.needed) continue;
    if (list.obj.is_none())
      throw py::value_error(std::string(list.name) + " are required when " + list.when +
                            ", got None");
    if (!py::isinstance<py::list>(list.obj) && !py::isinstance<py::tuple>(list.obj))
      throw py::type_error(std::string(list.name) + " must be a list or tuple of arrays, got " +
                           py::str(py::type::of(list.obj).attr("__name__")).cast<std::string>());
    seqs[k] = py::reinterpret_borrow<py::sequence>(list.obj);
    if (seqs[k].size() != seqs[0].size())
      throw py::value_error(std::string(lists[0].name) + " and " + list.name +
                            " must have the same length, got " + std::to_string(seqs[0].size()) +
                            " and " + std::to_string(seqs[k].size()));
  }
  Batch batch;
  const std::size_t count = seqs[0].size();
  batch.entries.reserve(count);
  batch.alive.reserve(count * lists.size());
  std::vector<Span> spans;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string index = "[" + std::to_string(i) + "]";
    const std::string param_name = lists[0].name + index;
    FloatArg param = inplace_arg(seqs[0][i], param_name.c_str());
    BatchEntry entry{param.dtype, param.numel(), {}};
    entry.data[0] = param.array.mutable_data();
    batch.alive.push_back(param.array);
    spans.push_back(span_of(param, true, param_name));
    for (std::size_t k = 1; k < lists.size(); ++k) {
      if (!lists[k].needed) continue;
      const std::string name = lists[k].name + index;
      FloatArg a = lists[k].in_place ? inplace_arg(seqs[k][i], name.c_str())
                                     : contiguous_arg(seqs[k][i], name.c_str());
      require_same_dtype(param, a);
      require_shape(a, param.shape);
      entry.data[k] =
          lists[k].in_place ? a.array.mutable_data() : const_cast<void*>(a.array.data());
      batch.alive.push_back(a.array);
      spans.push_back(span_of(a, lists[k].in_place, name));
    }
    batch.entries.push_back(entry);
  }
  require_disjoint(std::move(spans));  // also across entries: params[0] vs grads[1]
  return batch;
}

// sgd_update over lists of parameters in one call (what SGD.step does each step).
void sgd_update_many_binding(py::handle params_obj, py::handle grads_obj, py::handle bufs_obj,
                             double lr, double momentum, bool nesterov, double weight_decay) {
  const Batch batch = checked_batch({{"params", params_obj, true, true, ""},
                                     {"grads", grads_obj, false, true, ""},
                                     {"bufs", bufs_obj, true, momentum != 0.0, "momentum != 0"}});
  py::gil_scoped_release release;
  for (const BatchEntry& e : batch.entries) {
    dispatch_dtype(e.dtype, [&](auto tag) {
      using T = decltype(tag);
      sgd_update<T>(e.at<T>(0), e.at<T>(1), e.at<T>(2), e.n, static_cast<T>(lr),
                    static_cast<T>(momentum), nesterov, static_cast<T>(weight_decay));
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
  require_disjoint({span_of(param, true), span_of(grad, false), span_of(sum, true)});
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
  require_disjoint({span_of(param, true), span_of(grad, false), span_of(sq, true),
                    grad_avg ? span_of(*grad_avg, true) : Span{},
                    buf ? span_of(*buf, true) : Span{}});
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    rmsprop_update<T>(mutable_ptr<T>(param), grad.data<T>(), mutable_ptr<T>(sq),
                      mutable_ptr<T>(grad_avg), mutable_ptr<T>(buf), param.numel(),
                      static_cast<T>(lr), static_cast<T>(alpha), static_cast<T>(eps),
                      static_cast<T>(weight_decay), static_cast<T>(momentum));
  });
}

void adam_scalars(std::int64_t step, double beta1, double beta2) {
  step_arg(step);
  if (!(beta1 >= 0.0 && beta1 < 1.0)) throw py::value_error("beta1 must be in [0, 1), got " +
                                                            std::to_string(beta1));
  if (!(beta2 >= 0.0 && beta2 < 1.0)) throw py::value_error("beta2 must be in [0, 1), got " +
                                                            std::to_string(beta2));
}

void adam_update_binding(py::handle param_obj, py::handle grad_obj, py::handle m_obj,
                         py::handle v_obj, py::handle vmax_obj, std::int64_t step, double lr,
                         double beta1, double beta2, double eps, double weight_decay,
                         bool amsgrad, bool decoupled) {
  adam_scalars(step, beta1, beta2);
  FloatArg param = inplace_arg(param_obj, "param");
  FloatArg grad = contiguous_arg(grad_obj, "grad");
  require_same_dtype(param, grad);
  require_shape(grad, param.shape);
  FloatArg m = state_arg(m_obj, "exp_avg", param);
  FloatArg v = state_arg(v_obj, "exp_avg_sq", param);
  auto vmax = optional_state_arg(vmax_obj, "max_exp_avg_sq", param, amsgrad, "amsgrad");
  require_disjoint({span_of(param, true), span_of(grad, false), span_of(m, true),
                    span_of(v, true), vmax ? span_of(*vmax, true) : Span{}});
  dispatch_dtype(param.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    adam_update<T>(mutable_ptr<T>(param), grad.data<T>(), mutable_ptr<T>(m), mutable_ptr<T>(v),
                   mutable_ptr<T>(vmax), param.numel(), step, lr, beta1, beta2,
                   static_cast<T>(eps), weight_decay, decoupled);
  });
}

// The *_update_many bindings: the update of each entry, after checked_batch.
void adagrad_update_many_binding(py::handle params_obj, py::handle grads_obj, py::handle sums_obj,
                                 std::int64_t step, double lr, double lr_decay, double eps,
                                 double weight_decay) {
  step_arg(step);
  const Batch batch = checked_batch({{"params", params_obj, true, true, ""},
                                     {"grads", grads_obj, false, true, ""},
                                     {"sums", sums_obj, true, true, ""}});
  py::gil_scoped_release release;
  for (const BatchEntry& e : batch.entries) {
    dispatch_dtype(e.dtype, [&](auto tag) {
      using T = decltype(tag);
      adagrad_update<T>(e.at<T>(0), e.at<T>(1), e.at<T>(2), e.n, step, lr, lr_decay,
                        static_cast<T>(eps), static_cast<T>(weight_decay));
    });
  }
}

void rmsprop_update_many_binding(py::handle params_obj, py::handle grads_obj, py::handle sq_obj,
                                 py::handle grad_avgs_obj, py::handle bufs_obj, double lr,
                                 double alpha, double eps, double weight_decay, double momentum,
                                 bool centered) {
  const Batch batch = checked_batch({{"params", params_obj, true, true, ""},
                                     {"grads", grads_obj, false, true, ""},
                                     {"square_avgs", sq_obj, true, true, ""},
                                     {"grad_avgs", grad_avgs_obj, true, centered, "centered"},
                                     {"bufs", bufs_obj, true, momentum != 0.0, "momentum != 0"}});
  py::gil_scoped_release release;
  for (const BatchEntry& e : batch.entries) {
    dispatch_dtype(e.dtype, [&](auto tag) {
      using T = decltype(tag);
      rmsprop_update<T>(e.at<T>(0), e.at<T>(1), e.at<T>(2), e.at<T>(3), e.at<T>(4), e.n,
                        static_cast<T>(lr), static_cast<T>(alpha), static_cast<T>(eps),
                        static_cast<T>(weight_decay), static_cast<T>(momentum));
    });
  }
}

void adam_update_many_binding(py::handle params_obj, py::handle grads_obj, py::handle m_obj,
                              py::handle v_obj, py::handle vmax_obj, std::int64_t step,
                              double lr, double beta1, double beta2, double eps,
                              double weight_decay, bool amsgrad, bool decoupled) {
  adam_scalars(step, beta1, beta2);
  const Batch batch = checked_batch({{"params", params_obj, true, true, ""},
                                     {"grads", grads_obj, false, true, ""},
                                     {"exp_avgs", m_obj, true, true, ""},
                                     {"exp_avg_sqs", v_obj, true, true, ""},
                                     {"max_exp_avg_sqs", vmax_obj, true, amsgrad, "amsgrad"}});
  py::gil_scoped_release release;
  for (const BatchEntry& e : batch.entries) {
    dispatch_dtype(e.dtype, [&](auto tag) {
      using T = decltype(tag);
      adam_update<T>(e.at<T>(0), e.at<T>(1), e.at<T>(2), e.at<T>(3), e.at<T>(4), e.n, step, lr,
                     beta1, beta2, static_cast<T>(eps), weight_decay, decoupled);
    });
  }
}

double l2_penalty_accumulate_binding(py::handle grad_obj, py::handle w_obj, double reg) {
  FloatArg grad = inplace_arg(grad_obj, "grad");
  FloatArg w = float_arg(w_obj, "w");
  require_same_dtype(w, grad);
  require_shape(grad, w.shape);
  require_disjoint({span_of(grad, true), span_of(w, false)});
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
  m.def("adagrad_update_many", &adagrad_update_many_binding, py::arg("params"),
        py::arg("grads"), py::arg("sums"), py::kw_only(), py::arg("step"), py::arg("lr") = 1e-2,
        py::arg("lr_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("weight_decay") = 0.0,
        "adagrad_update on each entry of the lists; all checked before any update.");
  m.def("rmsprop_update_many", &rmsprop_update_many_binding, py::arg("params"),
        py::arg("grads"), py::arg("square_avgs"), py::arg("grad_avgs") = py::none(),
        py::arg("bufs") = py::none(), py::kw_only(), py::arg("lr") = 1e-2,
        py::arg("alpha") = 0.99, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("momentum") = 0.0, py::arg("centered") = false,
        "rmsprop_update on each entry of the lists; all checked before any update.");
  m.def("adam_update_many", &adam_update_many_binding, py::arg("params"), py::arg("grads"),
        py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs") = py::none(),
        py::kw_only(), py::arg("step"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9,
        py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("amsgrad") = false, py::arg("decoupled_weight_decay") = false,
        "adam_update on each entry of the lists; all checked before any update.");
  m.def("l2_penalty_accumulate", &l2_penalty_accumulate_binding, py::arg("grad"), py::arg("w"),
        py::arg("reg"), "grad += reg * w in place; returns 0.5 * reg * sum(w**2).");
}

}  // namespace fastbp::bind
