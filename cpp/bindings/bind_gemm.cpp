// gemm and matmul: argument checks, transposed views without copies, GIL release.
#include "bindings/common.hpp"
#include "gemm/gemm.hpp"

namespace fastbp::bind {

namespace {

// A 2-D operand whose transpose is C-contiguous (e.g. `x.T`) is passed as that
// transpose with its trans flag flipped, so transposed views cost no copy.
FloatArg matrix_operand(py::handle obj, const char* name, bool& trans) {
  if (py::isinstance<py::array>(obj)) {
    auto arr = py::reinterpret_borrow<py::array>(obj);
    const bool c_contig = arr.flags() & py::array::c_style;
    const bool f_contig = arr.flags() & py::array::f_style;
    if (arr.ndim() == 2 && f_contig && !c_contig) {
      trans = !trans;
      return float_arg(arr.attr("T"), name);
    }
  }
  FloatArg arg = float_arg(obj, name);
  require_ndim(arg, 2, trans ? "(K, M)" : "(M, K)");
  return arg;
}

py::object gemm_binding(py::handle a_obj, py::handle b_obj, py::handle c_obj, bool trans_a,
                        bool trans_b, double alpha, double beta) {
  bool ta = trans_a, tb = trans_b;
  FloatArg a = matrix_operand(a_obj, "a", ta);
  FloatArg b = matrix_operand(b_obj, "b", tb);
  require_same_dtype(a, b);
  const std::int64_t M = ta ? a.shape[1] : a.shape[0];
  const std::int64_t K = ta ? a.shape[0] : a.shape[1];
  const std::int64_t Kb = tb ? b.shape[1] : b.shape[0];
  const std::int64_t N = tb ? b.shape[0] : b.shape[1];
  if (K != Kb)
    throw py::value_error("gemm: op(a) is " + shape_str({M, K}) + " but op(b) is " +
                          shape_str({Kb, N}) + "; inner dimensions must match");

  py::array c_out;   // what the caller gets back
  py::array c_work;  // C-contiguous buffer the kernel writes
  if (c_obj.is_none()) {
    if (beta != 0.0) throw py::value_error("gemm: beta != 0 needs an array c to accumulate into");
    c_work = to_numpy(Tensor({M, N}, a.dtype));
    c_out = c_work;
  } else {
    if (!py::isinstance<py::array>(c_obj))
      throw py::type_error("c must be a numpy.ndarray or None");
    c_out = py::reinterpret_borrow<py::array>(c_obj);
    if (!c_out.writeable()) throw py::value_error("c must be writable");
    FloatArg c = float_arg(c_out, "c");
    require_same_dtype(a, c);
    require_shape(c, {M, N});
    // float_arg passes c itself only when it is C-contiguous and aligned; else (strided, or
    // a misaligned view such as a byte offset into a buffer) the kernel writes a copy.
    c_work = c.array.is(c_out) ? c_out : c.array;
    // C is written while A and B are still read: a c that overlaps a or b
    // (e.g. gemm(a, b, a)) gets a private buffer, copied back at the end.
    auto overlaps = py::module_::import("numpy").attr("may_share_memory");
    if (c_work.is(c_out) && (overlaps(c_out, a.array).cast<bool>() ||
                             overlaps(c_out, b.array).cast<bool>()))
      c_work = py::array(c_out.attr("copy")());
  }

  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* A = a.data<T>();
    const T* B = b.data<T>();
    T* C = static_cast<T*>(c_work.mutable_data());
    py::gil_scoped_release release;
    gemm<T>(ta, tb, M, N, K, static_cast<T>(alpha), A, a.shape[1], B, b.shape[1],
            static_cast<T>(beta), C, N);
  };
  dispatch_dtype(a.dtype, run);
  if (!c_work.is(c_out)) c_out[py::ellipsis()] = c_work;  // strided c: write back
  return c_out;
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::arg("c") = py::none(),
        py::kw_only(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
        "alpha * op(a) @ op(b) + beta * c; returns c (updated in place) or a new array.");
  m.def(
      "matmul",
      [](py::handle a, py::handle b) {
        return gemm_binding(a, b, py::none(), false, false, 1.0, 0.0);
      },
      py::arg("a"), py::arg("b"), "a @ b for 2-D float arrays of one dtype.");
}

}  // namespace fastbp::bind
