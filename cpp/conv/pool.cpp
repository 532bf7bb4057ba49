#include "conv/pool.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "runtime/context.hpp"
#include "runtime/threads.hpp"

namespace fastbp {

namespace {
constexpr double kMinWorkPerThread = 1 << 15;
}

// v replaces best when v > best, or when v is the window's first NaN (a NaN best is never
// replaced): keeps the first maximum in window order and the first NaN. Branch-free.
template <class T>
inline void max_update(T& best, std::int64_t& at, T v, std::int64_t i) {
  const bool take = (v > best) | ((v != v) & (best == best));
  best = take ? v : best;
  at = take ? i : at;
}

// The maximum of relu(window), from the window's maximum `best` and its first entry: best
// when it is positive or NaN; otherwise every relu(entry) is a zero, and the first of them
// wins: relu(first), which keeps the sign of a first entry of -0.0 as pooling relu(x) would.
template <class T>
inline T relu_of_max(T best, T first) {
  return ((best > T(0)) | (best != best)) ? best : (first < T(0) ? T(0) : first);
}

// One plane of max pooling, any window. Geometry is copied into locals: the int64 argmax
// stores could alias g's fields and would force reloads.
template <class T>
void max_pool_plane(T* y_p, std::int64_t* a_p, const T* x_p, std::int64_t base,
                    const ConvGeom& g, bool relu) {
  const std::int64_t KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, W = g.W, OH = g.OH,
                     OW = g.OW;
  for (std::int64_t oh = 0; oh < OH; ++oh) {
    for (std::int64_t ow = 0; ow < OW; ++ow) {
      const std::int64_t start = oh * SH * W + ow * SW;
      T best = x_p[start];
      std::int64_t at = start;
      for (std::int64_t kh = 0; kh < KH; ++kh) {
        const std::int64_t row = start + kh * W;
        for (std::int64_t kw = 0; kw < KW; ++kw) max_update(best, at, x_p[row + kw], row + kw);
      }
      y_p[oh * OW + ow] = relu ? relu_of_max(best, x_p[start]) : best;
      a_p[oh * OW + ow] = base + at;
    }
  }
}

// Outputs [from, count) of one 2x2, stride-2 row (contract of max_pool_2x2s2_row_f32 in
// conv/kernels/pool_kernels.hpp), in portable code; same order and results.
template <class T>
void max_pool_2x2s2_row(T* __restrict y_row, std::int64_t* __restrict a_row, const T* x0,
                        const T* x1, std::int64_t from, std::int64_t count,
                        std::int64_t row_base, std::int64_t W, bool relu) {
  for (std::int64_t ow = from; ow < count; ++ow) {
    T best = x0[2 * ow];
    std::int64_t off = 0;  // offset of the winner from the window's top-left corner
    max_update(best, off, x0[2 * ow + 1], std::int64_t{1});
    max_update(best, off, x1[2 * ow], W);
    max_update(best, off, x1[2 * ow + 1], W + 1);
    y_row[ow] = relu ? relu_of_max(best, x0[2 * ow]) : best;
    a_row[ow] = row_base + 2 * ow + off;
  }
}

// The 2x2, stride-2 window of most CNNs, row by row; float rows go to the context's row
// kernel where it has one (which takes rows of at least its vector width).
template <class T>
void max_pool_plane_2x2s2(T* y_p, std::int64_t* a_p, const T* x_p, std::int64_t base,
                          const ConvGeom& g, bool relu) {
  const std::int64_t W = g.W, OH = g.OH, OW = g.OW;
  constexpr bool is_float = std::is_same_v<T, float>;
  const pool_kernels::PoolKernels* rows = kernel_context().pool;
  const bool simd = is_float && rows != nullptr && W < (std::int64_t{1} << 30);
  for (std::int64_t oh = 0; oh < OH; ++oh) {
    const T* x0 = x_p + 2 * oh * W;
    const T* x1 = x0 + W;
    T* y_row = y_p + oh * OW;
    std::int64_t* a_row = a_p + oh * OW;
    const std::int64_t row_base = base + 2 * oh * W;
    std::int64_t done = 0;
    if constexpr (is_float) {
      if (simd)
        done = rows->max_pool_2x2s2_row_f32(y_row, a_row, x0, x1, OW, row_base, W, relu);
    }
    max_pool_2x2s2_row(y_row, a_row, x0, x1, done, OW, row_base, W, relu);
  }
}

// Plane pl of max pooling: y_p, a_p, x_p at its start, base the flat index of x_p[0].
template <class T>
void max_pool_any_plane(T* y_p, std::int64_t* a_p, const T* x_p, std::int64_t base,
                        const ConvGeom& g, bool relu) {
  if (g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2) {
    max_pool_plane_2x2s2<T>(y_p, a_p, x_p, base, g, relu);
  } else {
    max_pool_plane<T>(y_p, a_p, x_p, base, g, relu);
  }
}

template <class T>
void max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const ConvGeom& g, bool relu) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const int nt = threads_for(static_cast<double>(planes) * P * g.KH * g.KW, kMinWorkPerThread);
  parallel_for(nt, 0, planes, [&](std::int64_t pl) {
    max_pool_any_plane<T>(y + pl * P, argmax + pl * P, x + pl * HW, pl * HW, g, relu);
  });
}

template <class T>
void max_pool2d_planes(T* y, std::int64_t* argmax, const T* x, std::int64_t planes,
                       std::int64_t base, const ConvGeom& g, bool relu) {
  const std::int64_t HW = g.H * g.W, P = g.P();
  for (std::int64_t pl = 0; pl < planes; ++pl)
    max_pool_any_plane<T>(y + pl * P, argmax + pl * P, x + pl * HW, base + pl * HW, g, relu);
}

namespace {

// Index of the first entry of argmax (n entries) outside [0, numel_x), or -1 if none.
std::int64_t first_index_out_of_range(const std::int64_t* argmax, std::int64_t n,
                                      std::int64_t numel_x) {
  for (std::int64_t i = 0; i < n; ++i)
    if (argmax[i] < 0 || argmax[i] >= numel_x) return i;
  return -1;
}

}  // namespace

// dout[i], or 0 where gate (when not null) has gate[i] <= 0 or NaN: the ReLU fused before
// the pooling passed nothing there.
template <class T>
inline T gated(const T* dout, const T* gate, std::int64_t i) {
  const T d = dout[i];
  return gate == nullptr || gate[i] > T(0) ? d : T(0);
}

// Windows [from, count) of one row of the single-write backward (contract of
// max_unpool_2x2s2_row_f32 in conv/kernels/pool_kernels.hpp), in portable code.
// False when an argmax entry is not in its window's 2x2 block.
template <class T>
bool max_unpool_2x2s2_row(T* dx0, T* dx1, const T* dout, const T* gate,
                          const std::int64_t* argmax, std::int64_t from, std::int64_t count,
                          std::int64_t base, std::int64_t W) {
  for (std::int64_t ow = from; ow < count; ++ow) {
    const std::int64_t off = argmax[ow] - (base + 2 * ow);
    if (off != 0 && off != 1 && off != W && off != W + 1) return false;
    const T v = T(0) + gated(dout, gate, ow);  // 0 + d, as the scatter adds
    dx0[2 * ow] = off == 0 ? v : T(0);
    dx0[2 * ow + 1] = off == 1 ? v : T(0);
    dx1[2 * ow] = off == W ? v : T(0);
    dx1[2 * ow + 1] = off == W + 1 ? v : T(0);
  }
  return true;
}

// One plane of the backward when every argmax entry lies in its own window's 2x2 block at
// (2 oh, 2 ow) (always so after 2x2, stride-2 pooling): each block is written once, with
// no zero fill and no scatter; rows and columns past the blocks are zeroed. False (the
// plane partly written) when some entry is elsewhere.
template <class T>
bool max_unpool_plane_2x2s2(T* dx_p, const T* d_p, const T* g_p, const std::int64_t* a_p,
                            std::int64_t base, const PoolShape& s) {
  const std::int64_t OH = s.OH, OW = s.OW, H = s.H, W = s.W;
  constexpr bool is_float = std::is_same_v<T, float>;
  const pool_kernels::PoolKernels* rows = kernel_context().pool;
  const bool simd = is_float && rows != nullptr && W < (std::int64_t{1} << 30);
  for (std::int64_t oh = 0; oh < OH; ++oh) {
    T* dx0 = dx_p + 2 * oh * W;
    T* dx1 = dx0 + W;
    const std::int64_t row = oh * OW, row_base = base + 2 * oh * W;
    const T* g_row = g_p == nullptr ? nullptr : g_p + row;
    std::int64_t done = 0;
    if constexpr (is_float) {
      if (simd)
        done = rows->max_unpool_2x2s2_row_f32(dx0, dx1, d_p + row, g_row, a_p + row, OW,
                                              row_base, W);
    }
    if (done < 0 ||
        !max_unpool_2x2s2_row(dx0, dx1, d_p + row, g_row, a_p + row, done, OW, row_base, W))
      return false;
    std::fill(dx0 + 2 * OW, dx0 + W, T(0));
    std::fill(dx1 + 2 * OW, dx1 + W, T(0));
  }
  std::fill(dx_p + 2 * OH * W, dx_p + H * W, T(0));
  return true;
}

// One plane of the backward: dx_p (H x W), whose first element has flat index lo, from
// the plane's dout, gate (or null) and argmax. False (dx_p partly written) when an index
// lies outside the plane.
template <class T>
bool max_pool_backward_plane(T* dx_p, const T* d_p, const T* g_p, const std::int64_t* a_p,
                             std::int64_t lo, const PoolShape& s) {
  const std::int64_t plane_out = s.OH * s.OW, plane_in = s.H * s.W, hi = lo + plane_in;
  const bool blocks = s.OH == s.H / 2 && s.OW == s.W / 2;  // 2x2 stride-2 geometry
  if (blocks && max_unpool_plane_2x2s2(dx_p, d_p, g_p, a_p, lo, s)) return true;
  bool local = true;
  for (std::int64_t i = 0; i < plane_out; ++i) local &= a_p[i] >= lo && a_p[i] < hi;
  if (!local) return false;
  std::fill(dx_p, dx_p + plane_in, T(0));
  for (std::int64_t i = 0; i < plane_out; ++i) dx_p[a_p[i] - lo] += gated(d_p, g_p, i);
  return true;
}

template <class T>
std::int64_t max_pool2d_backward(T* dx, const T* dout, const std::int64_t* argmax,
                                 const PoolShape& s, const T* gate) {
  const std::int64_t planes = s.planes, plane_out = s.OH * s.OW, plane_in = s.H * s.W;
  // One pass over argmax in the common case: each plane checks that its indices stay
  // inside it (always so for argmax from max_pool2d_forward), then zeroes and scatters
  // its own plane of dx while it is hot in cache; or writes each 2x2 block once.
  int all_local = 1;
  const int nt = threads_for(static_cast<double>(planes) * (plane_in + plane_out),
                             kMinWorkPerThread);
  // Plane pl; false when its indices leave it (then it is left to the slow path below).
  const auto backward_plane = [&](std::int64_t pl) -> int {
    const std::int64_t first = pl * plane_out;
    return max_pool_backward_plane(dx + pl * plane_in, dout + first,
                                   gate == nullptr ? nullptr : gate + first, argmax + first,
                                   pl * plane_in, s);
  };
  if (nt <= 1) {  // no parallel region: see parallel_for
    for (std::int64_t pl = 0; pl < planes; ++pl) all_local &= backward_plane(pl);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static) reduction(& : all_local)
    for (std::int64_t pl = 0; pl < planes; ++pl) all_local &= backward_plane(pl);
  }
  if (all_local) return -1;
  // Indices that cross planes: validate them all, then scatter on one thread in index order.
  const std::int64_t n = planes * plane_out;
  const std::int64_t bad = first_index_out_of_range(argmax, n, planes * plane_in);
  if (bad >= 0) return bad;
  std::fill(dx, dx + planes * plane_in, T(0));
  for (std::int64_t i = 0; i < n; ++i) dx[argmax[i]] += gated(dout, gate, i);
  return -1;
}

template <class T>
bool max_pool2d_backward_planes(T* dx, const T* dout, const std::int64_t* argmax,
                                const T* gate, std::int64_t planes, std::int64_t base,
                                const PoolShape& s) {
  const std::int64_t plane_out = s.OH * s.OW, plane_in = s.H * s.W;
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    const std::int64_t first = pl * plane_out;
    if (!max_pool_backward_plane(dx + pl * plane_in, dout + first,
                                 gate == nullptr ? nullptr : gate + first, argmax + first,
                                 base + pl * plane_in, s))
      return false;
  }
  return true;
}

template <class T>
void avg_pool2d_forward(T* y, const T* x, const ConvGeom& g) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const T count = static_cast<T>(g.KH * g.KW);
  const int nt = threads_for(static_cast<double>(planes) * P * g.KH * g.KW, kMinWorkPerThread);
  parallel_for(nt, 0, planes, [&](std::int64_t pl) {
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
  });
}

template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const ConvGeom& g) {
  const std::int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.P();
  const T count = static_cast<T>(g.KH * g.KW);
  const int nt = threads_for(static_cast<double>(planes) * (HW + P * g.KH * g.KW),
                             kMinWorkPerThread);
  parallel_for(nt, 0, planes, [&](std::int64_t pl) {
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
  });
}

#define FASTBP_INSTANTIATE(T)                                                                 \
  template void max_pool2d_forward<T>(T*, std::int64_t*, const T*, const ConvGeom&, bool);    \
  template void max_pool2d_planes<T>(T*, std::int64_t*, const T*, std::int64_t, std::int64_t,  \
                                     const ConvGeom&, bool);                                  \
  template std::int64_t max_pool2d_backward<T>(T*, const T*, const std::int64_t*,               \
                                               const PoolShape&, const T*);                   \
  template bool max_pool2d_backward_planes<T>(T*, const T*, const std::int64_t*, const T*,      \
                                              std::int64_t, std::int64_t, const PoolShape&);  \
  template void avg_pool2d_forward<T>(T*, const T*, const ConvGeom&);                         \
  template void avg_pool2d_backward<T>(T*, const T*, const ConvGeom&);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
