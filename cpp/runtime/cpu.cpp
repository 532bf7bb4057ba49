// The one place that names the instruction sets: CPU feature detection, FASTBP_ISA and
// the choice of the kernel context (runtime/context.hpp). Adding an ISA: its enum value in
// cpu.hpp, its name, its feature test and its context below.
#include "runtime/cpu.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "runtime/context.hpp"
#include "runtime/kernels/generic/parts_generic.hpp"
#if defined(__x86_64__) || defined(_M_X64)
#include "runtime/kernels/avx2/parts_avx2.hpp"
#include "runtime/kernels/avx512/parts_avx512.hpp"
#endif
#if defined(__aarch64__)
#include "runtime/kernels/neon/parts_neon.hpp"
#endif

namespace fastbp {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::neon: return "neon";
    default: return "generic";
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas{Isa::generic};
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    isas.push_back(Isa::avx2);
#if !defined(FASTBP_AVX512_EMULATED)  // else the avx512 kernels are SIMDe's, not native
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      isas.push_back(Isa::avx512);
#endif
  }
#endif
#if defined(__aarch64__)
  isas.push_back(Isa::neon);  // Advanced SIMD is part of every AArch64 CPU
#endif
  return isas;
}

std::vector<Isa> emulated_isas() {
#if defined(FASTBP_AVX512_EMULATED)
  // SIMDe's portable code, compiled with the AVX2 units' flags.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {Isa::avx512};
#endif
  return {};
}

namespace {

Isa choose_isa() {
  const std::vector<Isa> isas = supported_isas();
  const char* env = std::getenv("FASTBP_ISA");
  if (env == nullptr || *env == '\0') return isas.back();
  const std::string wanted(env);
  const std::vector<Isa> emulated = emulated_isas();
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512, Isa::neon}) {
    if (wanted != isa_name(isa)) continue;
    if (std::find(isas.begin(), isas.end(), isa) == isas.end() &&
        std::find(emulated.begin(), emulated.end(), isa) == emulated.end())
      throw std::invalid_argument("FASTBP_ISA=" + wanted + " is not supported by this CPU");
    return isa;
  }
  throw std::invalid_argument("FASTBP_ISA=" + wanted +
                              " is not one of generic, avx2, avx512, neon");
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

const KernelContext& kernel_context() {
  static const KernelContext& ctx = []() -> const KernelContext& {
    switch (active_isa()) {
#if defined(__x86_64__) || defined(_M_X64)
      case Isa::avx512: return avx512::context();
      case Isa::avx2: return avx2::context();
#endif
#if defined(__aarch64__)
      case Isa::neon: return neon::context();
#endif
      default: return generic::context();
    }
  }();
  return ctx;
}

}  // namespace fastbp
