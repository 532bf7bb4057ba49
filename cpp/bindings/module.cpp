// The fastbp._core extension: runtime settings here, each op family in its own file.
#include <omp.h>

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
  info["openmp"] = true;
  info["openmp_version"] = _OPENMP;
  info["num_threads"] = num_threads();
  info["compiler"] = FASTBP_COMPILER;
  return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastbp's C++ core. Use the public wrappers in fastbp and fastbp.ops.";
  try {
    active_isa();  // decide dispatch once, at import; a bad FASTBP_ISA fails here
  } catch (const std::invalid_argument& e) {
    throw py::import_error(e.what());
  }

  m.def("build_info", &build_info, "Version, ISA in use and available, OpenMP, threads, compiler.");
  m.def("get_num_threads", &num_threads, "Threads fastbp's parallel regions use.");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1) throw py::value_error("num_threads must be >= 1, got " + std::to_string(n));
        set_num_threads(n);
      },
      py::arg("n"),
      "Set the threads fastbp's parallel regions use (n >= 1; default: the cores, or "
      "OMP_NUM_THREADS). Where other programs keep cores busy, fewer threads, or "
      "GOMP_SPINCOUNT=1000 in the environment before Python starts, can be much faster "
      "(README, 'Busy cores').");
  m.def(
      "fma_peak_gflops",
      [](int threads, double seconds) {
        if (threads < 1)
          throw py::value_error("threads must be >= 1, got " + std::to_string(threads));
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
