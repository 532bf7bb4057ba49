// CPU feature detection and the instruction set chosen for the kernels.
#pragma once

#include <string>
#include <vector>

namespace fastbp {

enum class Isa { generic, avx2, avx512, neon };

const char* isa_name(Isa isa);

// Instruction sets this CPU can run, widest last (generic is always there).
std::vector<Isa> supported_isas();

// The ISA in use: FASTBP_ISA if set, else the widest supported. Decided once.
// Throws std::invalid_argument for an unknown or unsupported FASTBP_ISA.
Isa active_isa();

}  // namespace fastbp
