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
  parallel_for(nt, 0, rows, [&](std::int64_t r) {  // r = (n, oh)
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
  });
}

template <class T>
void col2im(T* x, const T* cols, const ConvGeom& g) {
  const std::int64_t CKK = g.CKK(), P = g.P();
  const int nt = threads_for(static_cast<double>(g.N) * P * CKK, 1 << 16);
  // Samples are independent; inside one, every pixel sums in a fixed order.
  parallel_for(nt, 0, g.N, [&](std::int64_t n) {
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
  });
}

template <class T>
void pad_sample(T* xp, const T* x_n, const ConvGeom& g) {
  const std::int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW;
  for (std::int64_t c = 0; c < g.C; ++c) {
    T* plane = xp + c * HP * WP;
    std::fill(plane, plane + g.PH * WP, T(0));
    for (std::int64_t h = 0; h < g.H; ++h) {
      T* __restrict dst = plane + (g.PH + h) * WP;
      const T* __restrict src = x_n + (c * g.H + h) * g.W;
      for (std::int64_t i = 0; i < g.PW; ++i) dst[i] = T(0);
      for (std::int64_t i = 0; i < g.W; ++i) dst[g.PW + i] = src[i];
      for (std::int64_t i = g.PW + g.W; i < WP; ++i) dst[i] = T(0);
    }
    std::fill(plane + (g.PH + g.H) * WP, plane + HP * WP, T(0));
  }
}

template <class T>
void im2col_sample(T* col, const T* x_n, T* xp, const ConvGeom& g) {
  // Copy into the padded image first: the rows below then need no bounds checks.
  pad_sample(xp, x_n, g);
  const std::int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW, OW = g.OW, SW = g.SW;
  for (std::int64_t c = 0; c < g.C; ++c) {
    for (std::int64_t kh = 0; kh < g.KH; ++kh) {
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        T* const dst_k = col + ((c * g.KH + kh) * g.KW + kw) * g.P();
        const T* const src_k = xp + (c * HP + kh) * WP + kw;
        // Row pointers from oh (never stepped past the last row: a huge stride would
        // overflow): src[ow * SW] is padded pixel (c, oh * SH + kh, ow * SW + kw).
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {
          T* __restrict dst = dst_k + oh * OW;
          const T* __restrict src = src_k + oh * g.SH * WP;
          if (SW == 1) {
            for (std::int64_t i = 0; i < OW; ++i) dst[i] = src[i];
          } else {
            for (std::int64_t i = 0; i < OW; ++i) dst[i] = src[i * SW];
          }
        }
      }
    }
  }
}

template <class T>
void col2im_sample(T* x_n, const T* col, T* xp, const ConvGeom& g) {
  const std::int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW, OW = g.OW, SW = g.SW;
  std::fill(xp, xp + g.C * HP * WP, T(0));
  for (std::int64_t c = 0; c < g.C; ++c) {
    for (std::int64_t kh = 0; kh < g.KH; ++kh) {
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        const T* const src_k = col + ((c * g.KH + kh) * g.KW + kw) * g.P();
        T* const dst_k = xp + (c * HP + kh) * WP + kw;
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {  // row pointers as in im2col_sample
          const T* __restrict src = src_k + oh * OW;
          T* __restrict dst = dst_k + oh * g.SH * WP;
          if (SW == 1) {
            for (std::int64_t i = 0; i < OW; ++i) dst[i] += src[i];
          } else {
            for (std::int64_t i = 0; i < OW; ++i) dst[i * SW] += src[i];
          }
        }
      }
    }
  }
  // Crop the padding away.
  for (std::int64_t c = 0; c < g.C; ++c) {
    for (std::int64_t h = 0; h < g.H; ++h) {
      const T* src = xp + (c * HP + g.PH + h) * WP + g.PW;
      std::copy(src, src + g.W, x_n + (c * g.H + h) * g.W);
    }
  }
}

#define FASTBP_INSTANTIATE(T)                                             \
  template void im2col<T>(T*, const T*, const ConvGeom&);                 \
  template void col2im<T>(T*, const T*, const ConvGeom&);                 \
  template void pad_sample<T>(T*, const T*, const ConvGeom&);             \
  template void im2col_sample<T>(T*, const T*, T*, const ConvGeom&);      \
  template void col2im_sample<T>(T*, const T*, T*, const ConvGeom&);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
