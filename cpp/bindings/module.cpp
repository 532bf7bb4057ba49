// The fastbp._core extension: runtime settings here, each op family in its own file.
#include "bindings/common.hpp"
#include "runtime/cpu.hpp"
#include "runtime/fma_peak.hpp"
#include "runtime/threads.hpp"
#include "tensor/buffer_pool.hpp"

namespace fastbp::bind {
void bind_gemm(py::module_& m);
void bind_ops(py::module_& m);
void bind_conv(py::module_& m);
void bind_optim(py::module_& m);
void bind_batchnorm(py::module_& m);
void bind_dropout(py::module_& m);
void bind_losses(py::module_& m);
}  // namespace fastbp::bind

namespace {

namespace py = pybind11;
using namespace fastbp;

py::dict build_info() {
  py::dict info;
  info["version"] = FASTBP_VERSION;
  info["isa"] = isa_name(active_isa());
  py::list isas;
  for (Isa isa : supported_isas()) isas.append(isa_name(isa));
  info["isas"] = isas;
  py::list emulated;  // kernels built against SIMDe (a test build), FASTBP_ISA only
  for (Isa isa : emulated_isas()) emulated.append(isa_name(isa));
  info["emulated_isas"] = emulated;
  info["openmp"] = kOpenMP;
  info["openmp_version"] = kOpenMPVersion;  // 0 without OpenMP
  info["num_threads"] = num_threads();
  info["compiler"] = FASTBP_COMPILER;
  return info;
}

// A thread count in [1, kMaxThreads] from a Python int: TypeError for anything else,
// ValueError naming `name` outside the range (also for ints too large for C).
int thread_count(py::handle obj, const char* name) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    throw py::type_error(std::string(name) + " must be an int, got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (n == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || n < 1 || n > kMaxThreads)
    throw py::value_error(std::string(name) + " must be >= 1 and <= " +
                          std::to_string(kMaxThreads) + " (MAX_NUM_THREADS), got " +
                          py::str(index).cast<std::string>());
  return static_cast<int>(n);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastbp's C++ core. Use the public wrappers in fastbp and fastbp.ops.";
  try {
    active_isa();  // decide dispatch once, at import; a bad FASTBP_ISA fails here
  } catch (const std::invalid_argument& e) {
    throw py::import_error(e.what());
  }

  m.attr("MAX_NUM_THREADS") = kMaxThreads;
  m.def("build_info", &build_info, "Version, ISA in use and available, OpenMP, threads, compiler.");
  m.def("get_num_threads", &num_threads, "Threads fastbp's parallel regions use.");
  m.def(
      "set_num_threads",
      [](py::handle n_obj) {
        const int n = thread_count(n_obj, "num_threads");
        if (!kOpenMP && n > 1) {
          const std::string msg = "fastbp was built without OpenMP and runs on one thread: "
                                  "set_num_threads(" + std::to_string(n) +
                                  ") leaves it at 1 (README, 'Platforms and compilers')";
          if (PyErr_WarnEx(PyExc_RuntimeWarning, msg.c_str(), 1) != 0)
            throw py::error_already_set();  // the warning was turned into an error
        }
        set_num_threads(n);
      },
      py::arg("n"),
      "Set the threads fastbp's parallel regions use (1 <= n <= MAX_NUM_THREADS; default: "
      "the cores, or OMP_NUM_THREADS, at most MAX_NUM_THREADS). Where other programs keep "
      "cores busy, fewer threads, or "
      "GOMP_SPINCOUNT=1000 in the environment before Python starts, can be much faster "
      "(README, 'Busy cores'). A build without OpenMP (build_info()['openmp'] False) runs "
      "on one thread: n > 1 gives a RuntimeWarning and the count stays 1.");
  m.def(
      "fma_peak_gflops",
      [](py::handle threads_obj, double seconds) {
        const int threads = thread_count(threads_obj, "threads");
        if (!(seconds > 0 && seconds <= 60))
          throw py::value_error("seconds must be in (0, 60], got " + std::to_string(seconds));
        py::gil_scoped_release release;
        return fma_peak_gflops(threads, seconds);
      },
      py::arg("threads"), py::arg("seconds") = 0.3,
      "Measured float32 multiply-add peak (GFLOP/s) of `threads` threads with the active ISA.");
  m.def("cached_bytes", &buffer_pool::cached_bytes,
        "Bytes of freed result buffers fastbp keeps for reuse (at most 256 MiB).");
  m.def("empty_cache", &buffer_pool::empty_cache,
        "Returns the cached result buffers to the system; returns how many bytes.");

  fastbp::bind::bind_gemm(m);
  fastbp::bind::bind_ops(m);
  fastbp::bind::bind_conv(m);
  fastbp::bind::bind_optim(m);
  fastbp::bind::bind_batchnorm(m);
  fastbp::bind::bind_dropout(m);
  fastbp::bind::bind_losses(m);
}
