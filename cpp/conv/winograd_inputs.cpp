#include "conv/winograd_inputs.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/threads.hpp"

namespace fastbp::winograd {

namespace {

// The bits of kMaxInputMagnitude: a float's magnitude bits (sign cleared) compare as
// unsigned integers in the order of the magnitudes, with Inf and every NaN above all finite
// values; so a running maximum of them (a loop that vectorises) answers at once.
constexpr std::uint32_t kLimitBits = 0x4F800000u;  // 2^32
constexpr std::int64_t kChunk = 1 << 15;           // floats per piece of the scan

bool chunk_suitable(const float* p, std::int64_t n) {
  std::uint32_t top = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    top = std::max(top, bits & 0x7FFFFFFFu);
  }
  return top < kLimitBits;
}

}  // namespace

bool inputs_suitable(const float* p, std::int64_t n) {
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return chunk_suitable(p, n);
  std::vector<unsigned char> ok(static_cast<std::size_t>(chunks));
  const int nt = threads_for(static_cast<double>(n), 1 << 18);
  parallel_for(nt, 0, chunks, [p, n, out = ok.data()](std::int64_t c) {
    const std::int64_t begin = c * kChunk;
    out[c] = chunk_suitable(p + begin, std::min(kChunk, n - begin));
  });
  return std::all_of(ok.begin(), ok.end(), [](unsigned char v) { return v != 0; });
}

}  // namespace fastbp::winograd
