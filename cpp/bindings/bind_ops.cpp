// Activations, linear and softmax-cross-entropy bindings: checks, then the core with the GIL released.
#include "bindings/common.hpp"
#include "ops/activations.hpp"
#include "ops/linear.hpp"
#include "ops/softmax_xent.hpp"

namespace fastbp::bind {

namespace {

// out = kernel(out, x, n) for an activation forward pass of any shape.
template <class Kernel>
py::array activation_forward(py::handle x_obj, Kernel kernel) {
  FloatArg x = float_arg(x_obj, "x");
  Tensor out(x.shape, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    kernel(out.data_as<T>(), x.data<T>(), x.numel());
  });
  return to_numpy(std::move(out));
}

// dx = kernel(dx, dout, saved, n); `saved` is the forward input or output named `saved_name`.
template <class Kernel>
py::array activation_backward(py::handle dout_obj, py::handle saved_obj, const char* saved_name,
                              Kernel kernel) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg saved = float_arg(saved_obj, saved_name);
  require_same_dtype(dout, saved);
  require_shape(dout, saved.shape);
  Tensor dx(dout.shape, dout.dtype);
  dispatch_dtype(dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    kernel(dx.data_as<T>(), dout.data<T>(), saved.data<T>(), dout.numel());
  });
  return to_numpy(std::move(dx));
}

// The GEMM sizes of a linear layer. Callers copy them into plain variables: lambdas may
// not capture structured bindings in C++17 (clang rejects it, GCC accepts it).
struct LinearDims {
  std::int64_t N, D, M;
};

// Checks x (N, D), w (D, M) and optional b (M,); returns {N, D, M}.
LinearDims linear_dims(const FloatArg& x, const FloatArg& w) {
  require_ndim(x, 2, "(N, D)");
  require_ndim(w, 2, "(D, M)");
  require_same_dtype(x, w);
  if (x.shape[1] != w.shape[0])
    throw py::value_error("linear: x has " + std::to_string(x.shape[1]) +
                          " features per row but w expects " + std::to_string(w.shape[0]) +
                          " (x " + shape_str(x.shape) + ", w " + shape_str(w.shape) + ")");
  return {x.shape[0], x.shape[1], w.shape[1]};
}

// linear_forward, or with relu its fusion with a ReLU after it.
py::array linear_forward_impl(py::handle x_obj, py::handle w_obj, py::handle b_obj, bool relu) {
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const LinearDims dims = linear_dims(x, w);
  const std::int64_t N = dims.N, D = dims.D, M = dims.M;
  const std::optional<FloatArg> b = optional_bias(b_obj, x, M);
  Tensor y({N, M}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* bias = b ? b->data<T>() : nullptr;
    py::gil_scoped_release release;
    linear_forward<T>(y.data_as<T>(), x.data<T>(), w.data<T>(), bias, N, D, M, relu);
  });
  return to_numpy(std::move(y));
}

py::tuple linear_backward_binding(py::handle dout_obj, py::handle x_obj, py::handle w_obj) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const LinearDims dims = linear_dims(x, w);
  const std::int64_t N = dims.N, D = dims.D, M = dims.M;
  require_same_dtype(dout, x);
  require_shape(dout, {N, M});
  Tensor dx({N, D}, x.dtype), dw({D, M}, x.dtype), db({M}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    linear_backward<T>(dx.data_as<T>(), dw.data_as<T>(), db.data_as<T>(), dout.data<T>(),
                       x.data<T>(), w.data<T>(), N, D, M, false);
  });
  return py::make_tuple(to_numpy(std::move(dx)), to_numpy(std::move(dw)),
                        to_numpy(std::move(db)));
}

// A gradient buffer updated in place: must be a writable, C-contiguous array.
FloatArg grad_buffer(py::handle obj, const char* name, const FloatArg& like,
                     const Shape& expected) {
  FloatArg g = float_arg(obj, name);
  if (!g.array.is(obj) || !py::reinterpret_borrow<py::array>(obj).writeable())
    throw py::value_error(std::string(name) + " must be a writable C-contiguous and aligned array");
  require_same_dtype(like, g);
  require_shape(g, expected);
  return g;
}

// linear_backward_accumulate, or with a gate (the fused forward's y) its fusion with the
// ReLU's backward.
py::object linear_backward_accumulate_impl(py::handle dout_obj, py::handle x_obj,
                                           py::handle w_obj, py::handle gate_obj,
                                           py::handle w_grad_obj, py::handle b_grad_obj,
                                           bool input_grad, bool accumulate) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const LinearDims dims = linear_dims(x, w);
  const std::int64_t N = dims.N, D = dims.D, M = dims.M;
  require_same_dtype(dout, x);
  require_shape(dout, {N, M});
  std::optional<FloatArg> gate;
  if (!gate_obj.is_none()) {
    gate.emplace(float_arg(gate_obj, "y"));
    require_same_dtype(dout, *gate);
    require_shape(*gate, {N, M});
  }
  FloatArg w_grad = grad_buffer(w_grad_obj, "w_grad", x, {D, M});
  std::optional<FloatArg> b_grad;
  if (!b_grad_obj.is_none()) b_grad = grad_buffer(b_grad_obj, "b_grad", x, {M});
  require_disjoint({span_of(w_grad, true), b_grad ? span_of(*b_grad, true) : Span{},
                    span_of(dout, false), span_of(x, false), span_of(w, false),
                    gate ? span_of(*gate, false) : Span{}});
  Tensor dx({input_grad ? N : 0, D}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* dW = static_cast<T*>(w_grad.array.mutable_data());
    T* db = b_grad ? static_cast<T*>(b_grad->array.mutable_data()) : nullptr;
    const T* gate_data = gate ? gate->data<T>() : nullptr;
    py::gil_scoped_release release;
    linear_backward<T>(input_grad ? dx.data_as<T>() : nullptr, dW, db, dout.data<T>(),
                       x.data<T>(), w.data<T>(), N, D, M, accumulate, gate_data);
  });
  if (!input_grad) return py::none();
  return to_numpy(std::move(dx));
}

py::tuple softmax_cross_entropy_binding(py::handle scores_obj, py::handle labels_obj) {
  FloatArg scores = float_arg(scores_obj, "scores");
  require_ndim(scores, 2, "(N, C)");
  const std::int64_t N = scores.shape[0], C = scores.shape[1];
  IndexArg labels = index_arg(labels_obj, "labels");
  if (labels.shape.size() != 1 || labels.shape[0] != N)
    throw py::value_error("labels must have shape " + shape_str({N}) + " to match scores " +
                          shape_str(scores.shape) + ", got " + shape_str(labels.shape));
  if (N == 0) throw py::value_error("softmax_cross_entropy: empty batch (N = 0)");
  if (C == 0) throw py::value_error("softmax_cross_entropy: scores have no classes (C = 0)");
  const std::int64_t* lab = labels.data();
  for (std::int64_t i = 0; i < N; ++i)
    if (lab[i] < 0 || lab[i] >= C)
      throw py::value_error("labels[" + std::to_string(i) + "] = " + std::to_string(lab[i]) +
                            " is outside [0, " + std::to_string(C) + ")");
  Tensor dscores(scores.shape, scores.dtype);
  double loss = dispatch_dtype(scores.dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    py::gil_scoped_release release;
    return softmax_cross_entropy<T>(dscores.data_as<T>(), scores.data<T>(), lab, N, C);
  });
  return py::make_tuple(loss, to_numpy(std::move(dscores)));
}

}  // namespace

void bind_ops(py::module_& m) {
  auto unary = [&](const char* name, auto kernel, const char* doc) {
    m.def(name, [kernel](py::handle x) { return activation_forward(x, kernel); }, py::arg("x"),
          doc);
  };
  auto binary = [&](const char* name, const char* saved, auto kernel, const char* doc) {
    m.def(
        name,
        [kernel, saved](py::handle dout, py::handle s) {
          return activation_backward(dout, s, saved, kernel);
        },
        py::arg("dout"), py::arg(saved), doc);
  };
  unary("relu_forward", [](auto* o, const auto* x, std::int64_t n) { relu_forward(o, x, n); },
        "max(x, 0)");
  binary("relu_backward", "x",
         [](auto* dx, const auto* d, const auto* x, std::int64_t n) { relu_backward(dx, d, x, n); },
         "dout where x > 0, else 0");
  unary("sigmoid_forward", [](auto* o, const auto* x, std::int64_t n) { sigmoid_forward(o, x, n); },
        "1 / (1 + exp(-x))");
  binary("sigmoid_backward", "y",
         [](auto* dx, const auto* d, const auto* y, std::int64_t n) {
           sigmoid_backward(dx, d, y, n);
         },
         "dout * y * (1 - y), y the forward output");
  unary("tanh_forward", [](auto* o, const auto* x, std::int64_t n) { tanh_forward(o, x, n); },
        "tanh(x)");
  binary("tanh_backward", "y",
         [](auto* dx, const auto* d, const auto* y, std::int64_t n) { tanh_backward(dx, d, y, n); },
         "dout * (1 - y**2), y the forward output");
  unary("gelu_forward", [](auto* o, const auto* x, std::int64_t n) { gelu_forward(o, x, n); },
        "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), PyTorch's approximate='tanh' GELU");
  binary("gelu_backward", "x",
         [](auto* dx, const auto* d, const auto* x, std::int64_t n) { gelu_backward(dx, d, x, n); },
         "dout * gelu'(x), x the forward input");

  m.def(
      "leaky_relu_forward",
      [](py::handle x, double slope) {
        return activation_forward(x, [slope](auto* o, const auto* xp, std::int64_t n) {
          using T = std::remove_const_t<std::remove_pointer_t<decltype(xp)>>;
          leaky_relu_forward(o, xp, static_cast<T>(slope), n);
        });
      },
      py::arg("x"), py::arg("slope") = 0.01, "x where x > 0, else slope * x");
  m.def(
      "leaky_relu_backward",
      [](py::handle dout, py::handle x, double slope) {
        return activation_backward(
            dout, x, "x", [slope](auto* dx, const auto* d, const auto* xp, std::int64_t n) {
              using T = std::remove_const_t<std::remove_pointer_t<decltype(xp)>>;
              leaky_relu_backward(dx, d, xp, static_cast<T>(slope), n);
            });
      },
      py::arg("dout"), py::arg("x"), py::arg("slope") = 0.01, "dout where x > 0, else slope * dout");

  m.def(
      "linear_forward",
      [](py::handle x, py::handle w, py::handle b) { return linear_forward_impl(x, w, b, false); },
      py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
      "x @ w + b for x (N, D), w (D, M), b (M,) or None");
  m.def(
      "linear_relu_forward",
      [](py::handle x, py::handle w, py::handle b) { return linear_forward_impl(x, w, b, true); },
      py::arg("x"), py::arg("w"), py::arg("b") = py::none(), "relu(x @ w + b) in one call");
  m.def("linear_backward", &linear_backward_binding, py::arg("dout"), py::arg("x"), py::arg("w"),
        "(dx, dw, db) of y = x @ w + b");
  m.def(
      "linear_backward_accumulate",
      [](py::handle dout, py::handle x, py::handle w, py::handle w_grad, py::handle b_grad,
         bool input_grad, bool accumulate) {
        return linear_backward_accumulate_impl(dout, x, w, py::none(), w_grad, b_grad,
                                               input_grad, accumulate);
      },
      py::arg("dout"), py::arg("x"), py::arg("w"), py::arg("w_grad"),
      py::arg("b_grad") = py::none(), py::kw_only(), py::arg("input_grad") = true,
      py::arg("accumulate") = true,
      "Returns dx (None without input_grad); adds dw into w_grad and db into b_grad (or skips "
      "it when None), in place; with accumulate=False, writes them instead (the old contents "
      "are never read).");
  m.def("linear_relu_backward_accumulate", &linear_backward_accumulate_impl, py::arg("dout"),
        py::arg("x"), py::arg("w"), py::arg("y"), py::arg("w_grad"),
        py::arg("b_grad") = py::none(), py::kw_only(), py::arg("input_grad") = true,
        py::arg("accumulate") = true,
        "linear_backward_accumulate of dout where y > 0 (else 0): the backward of "
        "linear_relu_forward, whose output is y.");
  m.def("softmax_cross_entropy", &softmax_cross_entropy_binding, py::arg("scores"),
        py::arg("labels"), "(mean loss, dscores) of softmax cross-entropy; dscores already / N");
}

}  // namespace fastbp::bind
