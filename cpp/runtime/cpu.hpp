// CPU feature detection and the instruction set chosen for the kernels.
#pragma once

#include <string>
#include <vector>

namespace fastbp {

enum class Isa { generic, avx2, avx512, neon };

const char* isa_name(Isa isa);

// Instruction sets this CPU runs natively, widest last (generic is always there).
std::vector<Isa> supported_isas();

// Instruction sets whose kernels this build compiled against SIMDe's portable intrinsics
// (CMake option FASTBP_EMULATE_AVX512, a test build): they run on this CPU, slowly, when
// FASTBP_ISA names them, and are never chosen by default. Empty in a normal build.
std::vector<Isa> emulated_isas();

// The ISA in use: FASTBP_ISA if set (a supported or an emulated one), else the widest
// supported. Decided once. Throws std::invalid_argument for an unknown or unavailable
// FASTBP_ISA.
Isa active_isa();

}  // namespace fastbp
