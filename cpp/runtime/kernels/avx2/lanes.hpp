// Lane masks for AVX2 loops over rows whose length is not a multiple of 8. Include only
// from units built with AVX2 (-mavx2): the inline code is compiled with their flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fastbp::avx2 {

// The first n lanes (0 <= n <= 8) of a ymm set, the others clear: the mask of
// _mm256_maskload_ps / _mm256_maskstore_ps for a row's last n floats.
inline __m256i first_lanes(std::int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace fastbp::avx2
