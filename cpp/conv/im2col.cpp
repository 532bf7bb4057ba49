#include "conv/im2col.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/threads.hpp"

namespace fastbp {

namespace {

std::string pair_str(std::int64_t a, std::int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// Smallest o >= 0 with o * s >= a (s >= 1).
inline std::int64_t first_at_least(std::int64_t a, std::int64_t s) {
  return a <= 0 ? 0 : (a + s - 1) / s;
}

// Output columns [lo, hi) whose input column ow * SW - PW + kw lies inside [0, W).
inline void valid_ow(const ConvGeom& g, std::int64_t kw, std::int64_t& lo, std::int64_t& hi) {
  lo = std::min(g.OW, first_at_least(g.PW - kw, g.SW));
  hi = std::max(lo, std::min(g.OW, first_at_least(g.W + g.PW - kw, g.SW)));
}

}  // namespace

ConvGeom make_conv_geom(const char* op, std::int64_t N, std::int64_t C, std::int64_t H,
                        std::int64_t W, std::int64_t KH, std::int64_t KW, std::int64_t SH,
                        std::int64_t SW, std::int64_t PH, std::int64_t PW) {
  const std::string name(op);
  if (KH < 1 || KW < 1)
    throw std::invalid_argument(name + ": kernel_size must be >= 1, got " + pair_str(KH, KW));
  if (SH < 1 || SW < 1)
    throw std::invalid_argument(name + ": stride must be >= 1, got " + pair_str(SH, SW));
  if (PH < 0 || PW < 0)
    throw std::invalid_argument(name + ": padding must be >= 0, got " + pair_str(PH, PW));
  std::int64_t HP, WP;  // padded input size
  if (__builtin_mul_overflow(PH, 2, &HP) || __builtin_add_overflow(HP, H, &HP) ||
      __builtin_mul_overflow(PW, 2, &WP) || __builtin_add_overflow(WP, W, &WP))
    throw std::length_error(name + ": padding " + pair_str(PH, PW) + " is too large");
  if (HP < KH || WP < KW)
    throw std::invalid_argument(name + ": empty output: input (H, W) = " + pair_str(H, W) +
                                " with padding " + pair_str(PH, PW) +
                                " is smaller than the kernel " + pair_str(KH, KW));
  ConvGeom g{N, C, H, W, KH, KW, SH, SW, PH, PW, (HP - KH) / SH + 1, (WP - KW) / SW + 1};
  // Every count the ops form (P, C * KH * KW, N * P * C * KH * KW) must fit in 64 bits.
  std::int64_t cells = 1;
  for (std::int64_t f : {g.OH, g.OW, N, C, KH, KW}) {
    if (__builtin_mul_overflow(cells, std::max<std::int64_t>(f, 1), &cells))
      throw std::length_error(name + ": sizes too large: N * OH * OW * C * KH * KW overflows");
  }
  return g;
}

template <class T>
void im2col(T* cols, const T* x, const ConvGeom& g) {
  const std::int64_t CKK = g.CKK(), rows = g.N * g.OH;
  const int nt = threads_for(static_cast<double>(rows) * g.OW * CKK, 1 << 16);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {  // r = (n, oh)
    const std::int64_t n = r / g.OH, oh = r % g.OH;
    const T* x_n = x + n * g.image();
    for (std::int64_t ow = 0; ow < g.OW; ++ow) {
      T* dst = cols + (r * g.OW + ow) * CKK;
      for (std::int64_t c = 0; c < g.C; ++c) {
        for (std::int64_t kh = 0; kh < g.KH; ++kh, dst += g.KW) {
          const std::int64_t ih = oh * g.SH - g.PH + kh;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.KW, T(0));
            continue;
          }
          const T* src = x_n + (c * g.H + ih) * g.W;
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const std::int64_t iw = ow * g.SW - g.PW + kw;
            dst[kw] = (iw >= 0 && iw < g.W) ? src[iw] : T(0);
          }
        }
      }
    }
  }
}

template <class T>
void col2im(T* x, const T* cols, const ConvGeom& g) {
  const std::int64_t CKK = g.CKK(), P = g.P();
  const int nt = threads_for(static_cast<double>(g.N) * P * CKK, 1 << 16);
  // Samples are independent; inside one, every pixel sums in a fixed order.
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t n = 0; n < g.N; ++n) {
    T* x_n = x + n * g.image();
    std::fill(x_n, x_n + g.image(), T(0));
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      for (std::int64_t ow = 0; ow < g.OW; ++ow) {
        const T* src = cols + ((n * g.OH + oh) * g.OW + ow) * CKK;
        for (std::int64_t c = 0; c < g.C; ++c) {
          for (std::int64_t kh = 0; kh < g.KH; ++kh, src += g.KW) {
            const std::int64_t ih = oh * g.SH - g.PH + kh;
            if (ih < 0 || ih >= g.H) continue;
            T* dst = x_n + (c * g.H + ih) * g.W;
            for (std::int64_t kw = 0; kw < g.KW; ++kw) {
              const std::int64_t iw = ow * g.SW - g.PW + kw;
              if (iw >= 0 && iw < g.W) dst[iw] += src[kw];
            }
          }
        }
      }
    }
  }
}

template <class T>
void im2col_sample(T* col, const T* x_n, const ConvGeom& g) {
  const std::int64_t P = g.P();
  for (std::int64_t c = 0; c < g.C; ++c) {
    for (std::int64_t kh = 0; kh < g.KH; ++kh) {
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * P;
        std::int64_t lo, hi;
        valid_ow(g, kw, lo, hi);
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = row + oh * g.OW;
          const std::int64_t ih = oh * g.SH - g.PH + kh;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.OW, T(0));
            continue;
          }
          // x_n[base + ow * SW] is pixel (c, ih, iw); base + lo * SW >= 0.
          const std::int64_t base = (c * g.H + ih) * g.W + kw - g.PW;
          std::fill(dst, dst + lo, T(0));
          if (g.SW == 1) {
            std::copy(x_n + base + lo, x_n + base + hi, dst + lo);
          } else {
            for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = x_n[base + ow * g.SW];
          }
          std::fill(dst + hi, dst + g.OW, T(0));
        }
      }
    }
  }
}

template <class T>
void col2im_sample(T* x_n, const T* col, const ConvGeom& g) {
  const std::int64_t P = g.P();
  std::fill(x_n, x_n + g.image(), T(0));
  for (std::int64_t c = 0; c < g.C; ++c) {
    for (std::int64_t kh = 0; kh < g.KH; ++kh) {
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = col + ((c * g.KH + kh) * g.KW + kw) * P;
        std::int64_t lo, hi;
        valid_ow(g, kw, lo, hi);
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {
          const std::int64_t ih = oh * g.SH - g.PH + kh;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = row + oh * g.OW;
          const std::int64_t base = (c * g.H + ih) * g.W + kw - g.PW;  // as in im2col_sample
          if (g.SW == 1) {
            T* dst = x_n + base + lo;
            for (std::int64_t i = 0; i < hi - lo; ++i) dst[i] += src[lo + i];
          } else {
            for (std::int64_t ow = lo; ow < hi; ++ow) x_n[base + ow * g.SW] += src[ow];
          }
        }
      }
    }
  }
}

#define FASTBP_INSTANTIATE(T)                                             \
  template void im2col<T>(T*, const T*, const ConvGeom&);                 \
  template void col2im<T>(T*, const T*, const ConvGeom&);                 \
  template void im2col_sample<T>(T*, const T*, const ConvGeom&);          \
  template void col2im_sample<T>(T*, const T*, const ConvGeom&);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
