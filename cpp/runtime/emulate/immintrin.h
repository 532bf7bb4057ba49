// Stands in for <immintrin.h> when check_kernels.cpp builds the AVX-512 kernels on a CPU
// without AVX-512 (tests/test_gemm.py puts this folder and SIMDe's headers, from the
// simde-py package, first on the include path): SIMDe's portable implementations of the
// same intrinsics under their usual names. Never part of the library build.
#pragma once

#include <cstdint>
#include <cstring>

#define SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_NO_NATIVE  // portable code only: never the system's <immintrin.h> (this file)
#include <simde/x86/avx512.h>

// SIMDe aliases __mmask16, 32 and 64 but not the 8-lane mask.
typedef simde__mmask8 __mmask8;

// SIMDe's portable masked loads and stores move whole vectors (a masked store writes zeros
// into the masked-off lanes): the kernels' contract, C outside the m x n tile untouched and
// never read, needs the hardware's per-lane behaviour, so these touch only the mask's lanes.
namespace fastbp_simde {

template <class T, class V>
V maskz_loadu(std::uint32_t k, const void* p) {
  T lanes[64 / sizeof(T)] = {};
  for (unsigned i = 0; i < 64 / sizeof(T); ++i)
    if ((k >> i) & 1u) std::memcpy(&lanes[i], static_cast<const T*>(p) + i, sizeof(T));
  V v;
  std::memcpy(&v, lanes, 64);
  return v;
}

template <class T, class V>
void mask_storeu(void* p, std::uint32_t k, V v) {
  T lanes[64 / sizeof(T)];
  std::memcpy(lanes, &v, 64);
  for (unsigned i = 0; i < 64 / sizeof(T); ++i)
    if ((k >> i) & 1u) std::memcpy(static_cast<T*>(p) + i, &lanes[i], sizeof(T));
}

}  // namespace fastbp_simde

#undef _mm512_maskz_loadu_ps
#undef _mm512_maskz_loadu_pd
#undef _mm512_mask_storeu_ps
#undef _mm512_mask_storeu_pd
#define _mm512_maskz_loadu_ps(k, p) fastbp_simde::maskz_loadu<float, simde__m512>(k, p)
#define _mm512_maskz_loadu_pd(k, p) fastbp_simde::maskz_loadu<double, simde__m512d>(k, p)
#define _mm512_mask_storeu_ps(p, k, v) fastbp_simde::mask_storeu<float, simde__m512>(p, k, v)
#define _mm512_mask_storeu_pd(p, k, v) fastbp_simde::mask_storeu<double, simde__m512d>(p, k, v)
