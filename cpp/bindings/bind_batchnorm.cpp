// Batch-norm bindings: checks, then the core with the GIL released.
#include "bindings/common.hpp"
#include "ops/batchnorm.hpp"

namespace fastbp::bind {

namespace {

// A per-channel (C,) array of x's dtype, or nullopt for None.
std::optional<FloatArg> channel_arg(py::handle obj, const char* name, const FloatArg& x,
                                    std::int64_t C) {
  if (obj.is_none()) return std::nullopt;
  FloatArg a = float_arg(obj, name);
  require_same_dtype(x, a);
  require_shape(a, {C});
  return a;
}

// A per-channel buffer updated in place: writable and C-contiguous, never copied.
FloatArg inplace_channel_arg(py::handle obj, const char* name, const FloatArg& x, std::int64_t C) {
  FloatArg a = float_arg(obj, name);
  if (!a.array.is(obj) || !a.array.writeable())
    throw py::value_error(std::string(name) +
                          " must be a writable C-contiguous and aligned array (it is updated "
                          "in place)");
  require_same_dtype(x, a);
  require_shape(a, {C});
  return a;
}

template <class T> const T* ptr(const std::optional<FloatArg>& a) {
  return a ? a->data<T>() : nullptr;
}
template <class T> T* mutable_ptr(std::optional<FloatArg>& a) {
  return a ? static_cast<T*>(a->array.mutable_data()) : nullptr;
}

// The sizes of a batchnorm input. Callers copy them into plain variables: lambdas may
// not capture structured bindings in C++17 (clang rejects it, GCC accepts it).
struct BatchNormDims {
  std::int64_t N, C, S;
};

// {N, C, S} of x (N, C, *spatial).
BatchNormDims bn_dims(const FloatArg& x) {
  if (x.ndim() < 2)
    throw py::value_error("x must have at least 2 dimensions (N, C, ...), got shape " +
                          shape_str(x.shape));
  std::int64_t S = 1;
  for (int d = 2; d < x.ndim(); ++d) S *= x.shape[d];
  return {x.shape[0], x.shape[1], S};
}

py::tuple batchnorm_forward_binding(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                                    py::handle rm_obj, py::handle rv_obj, bool training,
                                    double momentum, double eps) {
  FloatArg x = float_arg(x_obj, "x");
  const BatchNormDims dims = bn_dims(x);
  const std::int64_t N = dims.N, C = dims.C, S = dims.S;
  if (!(eps >= 0.0)) throw py::value_error("eps must be >= 0, got " + std::to_string(eps));
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw py::value_error("momentum must be in [0, 1], got " + std::to_string(momentum));
  auto gamma = channel_arg(gamma_obj, "gamma", x, C);
  auto beta = channel_arg(beta_obj, "beta", x, C);
  if (rm_obj.is_none() != rv_obj.is_none())
    throw py::value_error("running_mean and running_var must both be arrays or both None");
  std::optional<FloatArg> rm, rv;
  if (!rm_obj.is_none()) {
    rm = inplace_channel_arg(rm_obj, "running_mean", x, C);
    rv = inplace_channel_arg(rv_obj, "running_var", x, C);
  }
  if (rm)
    require_disjoint({span_of(*rm, true), span_of(*rv, true), span_of(x, false),
                      gamma ? span_of(*gamma, false) : Span{},
                      beta ? span_of(*beta, false) : Span{}});
  if (training && N * S <= 1)
    throw py::value_error("batchnorm: training needs more than 1 value per channel, got x " +
                          shape_str(x.shape));
  if (!training && !rm)
    throw py::value_error("batchnorm: inference (training=False) needs running_mean and "
                          "running_var, got None");
  Tensor y(x.shape, x.dtype), mean({C}, x.dtype), invstd({C}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    if (training)
      batchnorm_forward_train<T>(y.data_as<T>(), mean.data_as<T>(), invstd.data_as<T>(),
                                 mutable_ptr<T>(rm), mutable_ptr<T>(rv), x.data<T>(),
                                 ptr<T>(gamma), ptr<T>(beta), N, C, S, eps, momentum);
    else
      batchnorm_forward_eval<T>(y.data_as<T>(), mean.data_as<T>(), invstd.data_as<T>(),
                                rm->data<T>(), rv->data<T>(), x.data<T>(), ptr<T>(gamma),
                                ptr<T>(beta), N, C, S, eps);
  });
  return py::make_tuple(to_numpy(std::move(y)), to_numpy(std::move(mean)),
                        to_numpy(std::move(invstd)));
}

py::array batchnorm_backward_binding(py::handle dout_obj, py::handle x_obj, py::handle mean_obj,
                                     py::handle invstd_obj, py::handle gamma_obj,
                                     py::handle gamma_grad_obj, py::handle beta_grad_obj,
                                     bool training) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg x = float_arg(x_obj, "x");
  const BatchNormDims dims = bn_dims(x);
  const std::int64_t N = dims.N, C = dims.C, S = dims.S;
  require_same_dtype(x, dout);
  require_shape(dout, x.shape);
  FloatArg mean = *channel_arg(mean_obj, "mean", x, C);
  FloatArg invstd = *channel_arg(invstd_obj, "invstd", x, C);
  auto gamma = channel_arg(gamma_obj, "gamma", x, C);
  std::optional<FloatArg> gamma_grad, beta_grad;
  if (!gamma_grad_obj.is_none()) gamma_grad = inplace_channel_arg(gamma_grad_obj, "gamma_grad", x, C);
  if (!beta_grad_obj.is_none()) beta_grad = inplace_channel_arg(beta_grad_obj, "beta_grad", x, C);
  require_disjoint({gamma_grad ? span_of(*gamma_grad, true) : Span{},
                    beta_grad ? span_of(*beta_grad, true) : Span{}, span_of(dout, false),
                    span_of(x, false), span_of(mean, false), span_of(invstd, false),
                    gamma ? span_of(*gamma, false) : Span{}});
  Tensor dx(x.shape, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    batchnorm_backward<T>(dx.data_as<T>(), mutable_ptr<T>(gamma_grad), mutable_ptr<T>(beta_grad),
                          dout.data<T>(), x.data<T>(), mean.data<T>(), invstd.data<T>(),
                          ptr<T>(gamma), N, C, S, training);
  });
  return to_numpy(std::move(dx));
}

}  // namespace

void bind_batchnorm(py::module_& m) {
  m.def("batchnorm_forward", &batchnorm_forward_binding, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("running_mean"), py::arg("running_var"), py::kw_only(),
        py::arg("training"), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
        "(y, mean, invstd) of batch norm over all axes but 1; updates running stats in training.");
  m.def("batchnorm_backward", &batchnorm_backward_binding, py::arg("dout"), py::arg("x"),
        py::arg("mean"), py::arg("invstd"), py::arg("gamma"), py::arg("gamma_grad"),
        py::arg("beta_grad"), py::kw_only(), py::arg("training") = true,
        "dx of batch norm; adds dgamma, dbeta into gamma_grad, beta_grad when given.");
}

}  // namespace fastbp::bind
