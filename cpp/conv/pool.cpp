#include "conv/pool.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/threads.hpp"

namespace fastbp {

namespace {
constexpr double kMinWorkPerThread = 1 << 15;
}

template <class T>
void max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const ConvGeom& g) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const int nt = threads_for(static_cast<double>(planes) * P * g.KH * g.KW, kMinWorkPerThread);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    const T* x_p = x + pl * HW;
    T* y_p = y + pl * P;
    std::int64_t* a_p = argmax + pl * P;
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      for (std::int64_t ow = 0; ow < g.OW; ++ow) {
        const std::int64_t start = oh * g.SH * g.W + ow * g.SW;
        T best = x_p[start];
        std::int64_t best_at = start;
        for (std::int64_t kh = 0; kh < g.KH && !std::isnan(best); ++kh) {
          const std::int64_t row = start + kh * g.W;
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const T v = x_p[row + kw];
            if (v > best || std::isnan(v)) {
              best = v;
              best_at = row + kw;
              if (std::isnan(v)) break;
            }
          }
        }
        y_p[oh * g.OW + ow] = best;
        a_p[oh * g.OW + ow] = pl * HW + best_at;
      }
    }
  }
}

std::int64_t first_index_out_of_range(const std::int64_t* argmax, std::int64_t n,
                                      std::int64_t numel_x) {
  for (std::int64_t i = 0; i < n; ++i)
    if (argmax[i] < 0 || argmax[i] >= numel_x) return i;
  return -1;
}

template <class T>
void max_pool2d_backward(T* dx, const T* dout, const std::int64_t* argmax, std::int64_t planes,
                         std::int64_t plane_out, std::int64_t plane_in) {
  bool local = true;  // every index of plane p inside plane p of dx
  for (std::int64_t pl = 0; pl < planes && local; ++pl) {
    const std::int64_t lo = pl * plane_in, hi = lo + plane_in;
    const std::int64_t* a_p = argmax + pl * plane_out;
    for (std::int64_t i = 0; i < plane_out; ++i)
      if (a_p[i] < lo || a_p[i] >= hi) {
        local = false;
        break;
      }
  }
  if (!local) {
    std::fill(dx, dx + planes * plane_in, T(0));
    for (std::int64_t i = 0; i < planes * plane_out; ++i) dx[argmax[i]] += dout[i];
    return;
  }
  const int nt = threads_for(static_cast<double>(planes) * (plane_in + plane_out),
                             kMinWorkPerThread);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    std::fill(dx + pl * plane_in, dx + (pl + 1) * plane_in, T(0));
    const std::int64_t* a_p = argmax + pl * plane_out;
    const T* d_p = dout + pl * plane_out;
    for (std::int64_t i = 0; i < plane_out; ++i) dx[a_p[i]] += d_p[i];
  }
}

template <class T>
void avg_pool2d_forward(T* y, const T* x, const ConvGeom& g) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const T count = static_cast<T>(g.KH * g.KW);
  const int nt = threads_for(static_cast<double>(planes) * P * g.KH * g.KW, kMinWorkPerThread);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    const T* x_p = x + pl * HW;
    T* y_p = y + pl * P;
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      for (std::int64_t ow = 0; ow < g.OW; ++ow) {
        const T* win = x_p + oh * g.SH * g.W + ow * g.SW;
        T s = 0;
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) s += win[kh * g.W + kw];
        y_p[oh * g.OW + ow] = s / count;
      }
    }
  }
}

template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const ConvGeom& g) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const T count = static_cast<T>(g.KH * g.KW);
  const int nt = threads_for(static_cast<double>(planes) * (HW + P * g.KH * g.KW),
                             kMinWorkPerThread);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    T* dx_p = dx + pl * HW;
    const T* d_p = dout + pl * P;
    std::fill(dx_p, dx_p + HW, T(0));
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      for (std::int64_t ow = 0; ow < g.OW; ++ow) {
        const T share = d_p[oh * g.OW + ow] / count;
        T* win = dx_p + oh * g.SH * g.W + ow * g.SW;
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) win[kh * g.W + kw] += share;
      }
    }
  }
}

#define FASTBP_INSTANTIATE(T)                                                                 \
  template void max_pool2d_forward<T>(T*, std::int64_t*, const T*, const ConvGeom&);          \
  template void max_pool2d_backward<T>(T*, const T*, const std::int64_t*, std::int64_t,       \
                                       std::int64_t, std::int64_t);                           \
  template void avg_pool2d_forward<T>(T*, const T*, const ConvGeom&);                         \
  template void avg_pool2d_backward<T>(T*, const T*, const ConvGeom&);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
