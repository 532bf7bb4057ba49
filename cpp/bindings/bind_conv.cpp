// Convolution and pooling bindings: argument checks, then the core with the GIL released.
// Legend: x (N, C, H, W), w (OC, C, KH, KW), b (OC,), y and dout (N, OC|C, OH, OW).
#include <cstdint>
#include <optional>
#include <string>

#include "bindings/common.hpp"
#include "conv/conv2d.hpp"
#include "conv/im2col.hpp"
#include "conv/pool.hpp"

namespace fastbp::bind {

namespace {

using Pair = std::array<std::int64_t, 2>;

std::string pair_str(const Pair& p) { return shape_str({p[0], p[1]}); }

// A Python integer (or NumPy integer), never a bool or a float; TypeError naming `name`.
std::int64_t int_value(py::handle obj, const std::string& name) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    throw py::type_error(name + " must be an int, got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0) throw py::value_error(name + " is too large for int64");
  return static_cast<std::int64_t>(v);
}

// kernel_size / stride / padding: an int (used for both axes) or a pair (h, w), each >= min.
Pair pair_arg(py::handle obj, const char* name, std::int64_t min) {
  Pair p;
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    auto seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() != 2)
      throw py::value_error(std::string(name) + " must be an int or a pair (h, w), got " +
                            std::to_string(seq.size()) + " values");
    p = {int_value(seq[0], name), int_value(seq[1], name)};
  } else if (!PyBool_Check(obj.ptr()) && PyIndex_Check(obj.ptr())) {
    p[0] = p[1] = int_value(obj, name);
  } else {
    throw py::type_error(std::string(name) + " must be an int or a pair of ints, got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
  if (p[0] < min || p[1] < min)
    throw py::value_error(std::string(name) + " must be >= " + std::to_string(min) + ", got " +
                          pair_str(p));
  return p;
}

// x_shape: a sequence of 4 non-negative ints (N, C, H, W).
Shape x_shape_arg(py::handle obj) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
    throw py::type_error("x_shape must be a sequence of 4 ints (N, C, H, W), got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  auto seq = py::reinterpret_borrow<py::sequence>(obj);
  if (seq.size() != 4)
    throw py::value_error("x_shape must have 4 entries (N, C, H, W), got " +
                          std::to_string(seq.size()));
  Shape shape;
  for (std::size_t i = 0; i < 4; ++i) {
    shape.push_back(int_value(seq[i], "x_shape[" + std::to_string(i) + "]"));
    if (shape.back() < 0)
      throw py::value_error("x_shape must be non-negative, got " + shape_str(shape));
  }
  checked_numel(shape, 8);  // length_error (ValueError) when the product overflows
  return shape;
}

// Geometry with the configuration errors raised as ValueError naming `op`.
ConvGeom geom(const char* op, const Shape& x, std::int64_t KH, std::int64_t KW, const Pair& s,
              const Pair& p) {
  try {
    return make_conv_geom(op, x[0], x[1], x[2], x[3], KH, KW, s[0], s[1], p[0], p[1]);
  } catch (const std::exception& e) {
    throw py::value_error(e.what());
  }
}

Pair pool_stride(py::handle stride_obj, const Pair& kernel) {
  return stride_obj.is_none() ? kernel : pair_arg(stride_obj, "stride", 1);
}

py::array im2col_binding(py::handle x_obj, py::handle k_obj, py::handle s_obj,
                         py::handle p_obj) {
  FloatArg x = float_arg(x_obj, "x");
  require_ndim(x, 4, "(N, C, H, W)");
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom g = geom("im2col", x.shape, k[0], k[1], pair_arg(s_obj, "stride", 1),
                          pair_arg(p_obj, "padding", 0));
  Tensor cols({g.N * g.P(), g.CKK()}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    im2col<T>(cols.data_as<T>(), x.data<T>(), g);
  });
  return to_numpy(std::move(cols));
}

py::array col2im_binding(py::handle cols_obj, py::handle shape_obj, py::handle k_obj,
                         py::handle s_obj, py::handle p_obj) {
  FloatArg cols = float_arg(cols_obj, "cols");
  require_ndim(cols, 2, "(N * OH * OW, C * KH * KW)");
  const Shape xs = x_shape_arg(shape_obj);
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom g = geom("col2im", xs, k[0], k[1], pair_arg(s_obj, "stride", 1),
                          pair_arg(p_obj, "padding", 0));
  require_shape(cols, {g.N * g.P(), g.CKK()});
  Tensor x(xs, cols.dtype);
  dispatch_dtype(cols.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    col2im<T>(x.data_as<T>(), cols.data<T>(), g);
  });
  return to_numpy(std::move(x));
}

// Checks x (N, C, H, W) against w (OC, C, KH, KW); returns the geometry.
ConvGeom conv_geom(const char* op, const FloatArg& x, const FloatArg& w, py::handle s_obj,
                   py::handle p_obj) {
  require_ndim(x, 4, "(N, C, H, W)");
  require_ndim(w, 4, "(OC, C, KH, KW)");
  require_same_dtype(x, w);
  if (x.shape[1] != w.shape[1])
    throw py::value_error(std::string(op) + ": x has " + std::to_string(x.shape[1]) +
                          " channels but w expects " + std::to_string(w.shape[1]) + " (x " +
                          shape_str(x.shape) + ", w " + shape_str(w.shape) + ")");
  return geom(op, x.shape, w.shape[2], w.shape[3], pair_arg(s_obj, "stride", 1),
              pair_arg(p_obj, "padding", 0));
}

py::array conv2d_forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj,
                                 py::handle s_obj, py::handle p_obj) {
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const ConvGeom g = conv_geom("conv2d_forward", x, w, s_obj, p_obj);
  const std::int64_t OC = w.shape[0];
  const std::optional<FloatArg> b = optional_bias(b_obj, x, OC);
  Tensor y({g.N, OC, g.OH, g.OW}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* bias = b ? b->data<T>() : nullptr;
    py::gil_scoped_release release;
    conv2d_forward<T>(y.data_as<T>(), x.data<T>(), w.data<T>(), bias, g, OC);
  });
  return to_numpy(std::move(y));
}

py::tuple conv2d_relu_max_pool2d_forward_binding(py::handle x_obj, py::handle w_obj,
                                                 py::handle b_obj, py::handle s_obj,
                                                 py::handle p_obj, py::handle k_obj,
                                                 py::handle pool_s_obj) {
  const char* op = "conv2d_relu_max_pool2d_forward";
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const ConvGeom g = conv_geom(op, x, w, s_obj, p_obj);
  const std::int64_t OC = w.shape[0];
  const std::optional<FloatArg> b = optional_bias(b_obj, x, OC);
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom pg = geom(op, {g.N, OC, g.OH, g.OW}, k[0], k[1], pool_stride(pool_s_obj, k),
                           {0, 0});
  Tensor y({g.N, OC, pg.OH, pg.OW}, x.dtype);
  py::array_t<std::int64_t> argmax = pooled_index_array({g.N, OC, pg.OH, pg.OW});
  std::int64_t* am = argmax.mutable_data();
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* bias = b ? b->data<T>() : nullptr;
    py::gil_scoped_release release;
    conv2d_relu_max_pool2d_forward<T>(y.data_as<T>(), am, x.data<T>(), w.data<T>(), bias, g, OC,
                                      pg);
  });
  return py::make_tuple(to_numpy(std::move(y)), argmax);
}

py::tuple conv2d_backward_binding(py::handle dout_obj, py::handle x_obj, py::handle w_obj,
                                  py::handle s_obj, py::handle p_obj, bool input_grad) {
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const ConvGeom g = conv_geom("conv2d_backward", x, w, s_obj, p_obj);
  const std::int64_t OC = w.shape[0];
  require_same_dtype(dout, x);
  require_shape(dout, {g.N, OC, g.OH, g.OW});
  Tensor dx(input_grad ? x.shape : Shape{0}, x.dtype), dw(w.shape, x.dtype), db({OC}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    conv2d_backward<T>(input_grad ? dx.data_as<T>() : nullptr, dw.data_as<T>(), db.data_as<T>(),
                       dout.data<T>(), x.data<T>(), w.data<T>(), g, OC);
  });
  py::object dx_out = input_grad ? py::object(to_numpy(std::move(dx))) : py::object(py::none());
  return py::make_tuple(dx_out, to_numpy(std::move(dw)), to_numpy(std::move(db)));
}

py::tuple conv2d_relu_max_pool2d_backward_binding(py::handle dout_obj, py::handle argmax_obj,
                                                  py::handle y_obj, py::handle x_obj,
                                                  py::handle w_obj, py::handle s_obj,
                                                  py::handle p_obj, bool input_grad) {
  const char* op = "conv2d_relu_max_pool2d_backward";
  FloatArg dout = float_arg(dout_obj, "dout");
  FloatArg y = float_arg(y_obj, "y");
  FloatArg x = float_arg(x_obj, "x");
  FloatArg w = float_arg(w_obj, "w");
  const ConvGeom g = conv_geom(op, x, w, s_obj, p_obj);
  const std::int64_t OC = w.shape[0];
  require_ndim(dout, 4, "(N, OC, PH, PW)");
  require_same_dtype(dout, x);
  require_same_dtype(y, x);
  if (dout.shape[0] != g.N || dout.shape[1] != OC)
    throw py::value_error(std::string(op) + ": dout " + shape_str(dout.shape) +
                          " must have the (N, OC) of the convolution's output " +
                          shape_str({g.N, OC, g.OH, g.OW}));
  require_shape(y, dout.shape);
  IndexArg argmax = index_arg(argmax_obj, "argmax");
  if (argmax.shape != dout.shape)
    throw py::value_error("argmax must have the shape of dout " + shape_str(dout.shape) +
                          ", got " + shape_str(argmax.shape));
  const PoolShape ps{g.N * OC, dout.shape[2], dout.shape[3], g.OH, g.OW};
  Tensor dx(input_grad ? x.shape : Shape{0}, x.dtype), dw(w.shape, x.dtype), db({OC}, x.dtype);
  const std::int64_t bad = dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    return conv2d_relu_max_pool2d_backward<T>(
        input_grad ? dx.data_as<T>() : nullptr, dw.data_as<T>(), db.data_as<T>(), dout.data<T>(),
        argmax.data(), y.data<T>(), x.data<T>(), w.data<T>(), g, OC, ps);
  });
  if (bad >= 0)
    throw py::value_error("argmax holds " + std::to_string(argmax.data()[bad]) +
                          " (flat entry " + std::to_string(bad) + "), outside [0, " +
                          std::to_string(g.N * OC * g.OH * g.OW) +
                          ") for the convolution's output " + shape_str({g.N, OC, g.OH, g.OW}));
  py::object dx_out = input_grad ? py::object(to_numpy(std::move(dx))) : py::object(py::none());
  return py::make_tuple(dx_out, to_numpy(std::move(dw)), to_numpy(std::move(db)));
}

// max_pool2d_forward, or with relu its fusion after a ReLU (see conv/pool.hpp).
py::tuple max_pool_forward(const char* op, py::handle x_obj, py::handle k_obj, py::handle s_obj,
                           bool relu) {
  FloatArg x = float_arg(x_obj, "x");
  require_ndim(x, 4, "(N, C, H, W)");
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom g = geom(op, x.shape, k[0], k[1], pool_stride(s_obj, k), {0, 0});
  Tensor y({g.N, g.C, g.OH, g.OW}, x.dtype);
  py::array_t<std::int64_t> argmax = pooled_index_array({g.N, g.C, g.OH, g.OW});
  std::int64_t* am = argmax.mutable_data();
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    max_pool2d_forward<T>(y.data_as<T>(), am, x.data<T>(), g, relu);
  });
  return py::make_tuple(to_numpy(std::move(y)), argmax);
}

py::tuple max_pool2d_forward_binding(py::handle x_obj, py::handle k_obj, py::handle s_obj) {
  return max_pool_forward("max_pool2d_forward", x_obj, k_obj, s_obj, false);
}

py::tuple relu_max_pool2d_forward_binding(py::handle x_obj, py::handle k_obj,
                                          py::handle s_obj) {
  return max_pool_forward("relu_max_pool2d_forward", x_obj, k_obj, s_obj, true);
}

// max_pool2d_backward, or with a gate (the fused forward's y) its fusion with the ReLU's.
py::array max_pool_backward(const char* op, py::handle dout_obj, py::handle argmax_obj,
                            py::handle gate_obj, py::handle shape_obj) {
  FloatArg dout = float_arg(dout_obj, "dout");
  require_ndim(dout, 4, "(N, C, OH, OW)");
  const Shape xs = x_shape_arg(shape_obj);
  if (dout.shape[0] != xs[0] || dout.shape[1] != xs[1])
    throw py::value_error(std::string(op) + ": dout " + shape_str(dout.shape) +
                          " must have the (N, C) of x_shape " + shape_str(xs));
  IndexArg argmax = index_arg(argmax_obj, "argmax");
  if (argmax.shape != dout.shape)
    throw py::value_error("argmax must have the shape of dout " + shape_str(dout.shape) +
                          ", got " + shape_str(argmax.shape));
  std::optional<FloatArg> gate;
  if (!gate_obj.is_none()) {
    gate.emplace(float_arg(gate_obj, "y"));
    require_same_dtype(*gate, dout);
    require_shape(*gate, dout.shape);
  }
  const std::int64_t numel_x = xs[0] * xs[1] * xs[2] * xs[3];
  Tensor dx(xs, dout.dtype);
  const std::int64_t bad = dispatch_dtype(dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* gate_data = gate ? gate->data<T>() : nullptr;
    py::gil_scoped_release release;
    const PoolShape shape{xs[0] * xs[1], dout.shape[2], dout.shape[3], xs[2], xs[3]};
    return max_pool2d_backward<T>(dx.data_as<T>(), dout.data<T>(), argmax.data(), shape,
                                  gate_data);
  });
  if (bad >= 0)
    throw py::value_error("argmax holds " + std::to_string(argmax.data()[bad]) +
                          " (flat entry " + std::to_string(bad) + "), outside [0, " +
                          std::to_string(numel_x) + ") for x_shape " + shape_str(xs));
  return to_numpy(std::move(dx));
}

py::array max_pool2d_backward_binding(py::handle dout_obj, py::handle argmax_obj,
                                      py::handle shape_obj) {
  return max_pool_backward("max_pool2d_backward", dout_obj, argmax_obj, py::none(), shape_obj);
}

py::array relu_max_pool2d_backward_binding(py::handle dout_obj, py::handle argmax_obj,
                                           py::handle y_obj, py::handle shape_obj) {
  return max_pool_backward("relu_max_pool2d_backward", dout_obj, argmax_obj, y_obj, shape_obj);
}

py::array avg_pool2d_forward_binding(py::handle x_obj, py::handle k_obj, py::handle s_obj) {
  FloatArg x = float_arg(x_obj, "x");
  require_ndim(x, 4, "(N, C, H, W)");
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom g = geom("avg_pool2d_forward", x.shape, k[0], k[1], pool_stride(s_obj, k),
                          {0, 0});
  Tensor y({g.N, g.C, g.OH, g.OW}, x.dtype);
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    avg_pool2d_forward<T>(y.data_as<T>(), x.data<T>(), g);
  });
  return to_numpy(std::move(y));
}

py::array avg_pool2d_backward_binding(py::handle dout_obj, py::handle shape_obj,
                                      py::handle k_obj, py::handle s_obj) {
  FloatArg dout = float_arg(dout_obj, "dout");
  require_ndim(dout, 4, "(N, C, OH, OW)");
  const Shape xs = x_shape_arg(shape_obj);
  const Pair k = pair_arg(k_obj, "kernel_size", 1);
  const ConvGeom g = geom("avg_pool2d_backward", xs, k[0], k[1], pool_stride(s_obj, k),
                          {0, 0});
  require_shape(dout, {g.N, g.C, g.OH, g.OW});
  Tensor dx(xs, dout.dtype);
  dispatch_dtype(dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    py::gil_scoped_release release;
    avg_pool2d_backward<T>(dx.data_as<T>(), dout.data<T>(), g);
  });
  return to_numpy(std::move(dx));
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("im2col", &im2col_binding, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = 1,
        py::arg("padding") = 0,
        "x (N, C, H, W) -> cols (N*OH*OW, C*KH*KW), rows (n, oh, ow), columns (c, kh, kw)");
  m.def("col2im", &col2im_binding, py::arg("cols"), py::arg("x_shape"), py::arg("kernel_size"),
        py::arg("stride") = 1, py::arg("padding") = 0,
        "Adjoint of im2col: cols (N*OH*OW, C*KH*KW) -> x (N, C, H, W), overlaps summed");
  m.def("conv2d_forward", &conv2d_forward_binding, py::arg("x"), py::arg("w"),
        py::arg("b") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
        "x (N, C, H, W), w (OC, C, KH, KW), b (OC,) or None -> y (N, OC, OH, OW)");
  m.def("conv2d_backward", &conv2d_backward_binding, py::arg("dout"), py::arg("x"),
        py::arg("w"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
        py::arg("input_grad") = true,
        "dout (N, OC, OH, OW) -> (dx, dw, db) of conv2d_forward; dx is None without input_grad");
  m.def("conv2d_relu_max_pool2d_forward", &conv2d_relu_max_pool2d_forward_binding,
        py::arg("x"), py::arg("w"), py::arg("b"), py::arg("stride"), py::arg("padding"),
        py::arg("kernel_size"), py::arg("pool_stride") = py::none(),
        "relu_max_pool2d_forward(conv2d_forward(x, w, b, stride, padding), kernel_size, "
        "pool_stride), without storing the convolution's output");
  m.def("conv2d_relu_max_pool2d_backward", &conv2d_relu_max_pool2d_backward_binding,
        py::arg("dout"), py::arg("argmax"), py::arg("y"), py::arg("x"), py::arg("w"),
        py::arg("stride"), py::arg("padding"), py::kw_only(), py::arg("input_grad") = true,
        "(dx, dw, db) of conv2d_relu_max_pool2d_forward, whose outputs were y and argmax");
  m.def("max_pool2d_forward", &max_pool2d_forward_binding, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(),
        "x (N, C, H, W) -> (y (N, C, OH, OW), argmax int64 flat indices into x)");
  m.def("max_pool2d_backward", &max_pool2d_backward_binding, py::arg("dout"), py::arg("argmax"),
        py::arg("x_shape"), "dx with dx.ravel()[argmax] += dout");
  m.def("relu_max_pool2d_forward", &relu_max_pool2d_forward_binding, py::arg("x"),
        py::arg("kernel_size"), py::arg("stride") = py::none(),
        "max_pool2d_forward(relu(x))'s y in one pass; argmax indexes x's own maxima");
  m.def("relu_max_pool2d_backward", &relu_max_pool2d_backward_binding, py::arg("dout"),
        py::arg("argmax"), py::arg("y"), py::arg("x_shape"),
        "dx of relu_max_pool2d_forward: dout routed to argmax where y > 0");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_binding, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), "x (N, C, H, W) -> window means (N, C, OH, OW)");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_binding, py::arg("dout"),
        py::arg("x_shape"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        "dx: each dout / (KH * KW) spread over its window");
}

}  // namespace fastbp::bind
