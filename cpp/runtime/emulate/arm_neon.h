// Stands in for <arm_neon.h> when check_kernels.cpp builds the NEON kernels on a CPU
// without NEON (tests/test_gemm.py puts this folder and SIMDe's headers, from the simde-py
// package, first on the include path): SIMDe's portable implementations of the same
// intrinsics under their usual names. Never part of the library build.
#pragma once

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
