// FASTBP_ISA_TAG names the instruction set a translation unit is compiled for. Headers
// whose code is compiled once per ISA (vexp.hpp, activation_loops.hpp) wrap it in
// `inline namespace FASTBP_ISA_TAG`, so each compilation gets symbols of its own and the
// linker never merges one ISA's copy with another's. A unit under kernels/<isa>/
// defines the tag before its first include; everything else gets `baseline`.
#pragma once

#ifndef FASTBP_ISA_TAG
#define FASTBP_ISA_TAG baseline
#endif
