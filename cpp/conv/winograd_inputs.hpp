// Which inputs Winograd may take (conv/winograd.hpp). Its transforms add and subtract the
// inputs of a whole tile before they multiply: one Inf or NaN would turn every output of
// the tile non-finite (the direct sum: only the outputs whose window holds it), and a
// magnitude of 2^32 or more would swamp the tile's other values (or overflow float32 in the
// transforms). Convolutions whose inputs are not all suitable run the direct or im2col sum
// instead, for the whole call.
#pragma once

#include <cstdint>

namespace fastbp::winograd {

// |v| < kMaxInputMagnitude for every suitable input v: below it, the transforms' factors
// (at most ~100 for an input tile, ~400 for an output tile) times the products of two such
// values summed over up to 2^20 channels stay below float32's 2^128.
inline constexpr float kMaxInputMagnitude = 4294967296.0f;  // 2^32

// True when every p[0:n] is finite with |p[i]| < kMaxInputMagnitude (NaN fails). Reads the
// array once (threaded when long); the answer does not depend on the thread count.
bool inputs_suitable(const float* p, std::int64_t n);

}  // namespace fastbp::winograd
