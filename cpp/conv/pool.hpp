// Max and average pooling on NCHW images, without padding.
//
// Legend: as in conv/im2col.hpp (PH = PW = 0): x (N, C, H, W), y and dout (N, C, OH, OW),
//   argmax (N, C, OH, OW) int64: flat index into x (x.ravel()) of each window's maximum.
// Windows cover x[n, c, oh*SH : oh*SH + KH, ow*SW : ow*SW + KW]. Planes (n, c) are
// independent and split over threads; inside one, sums run in a fixed order.
#pragma once

#include <cstdint>

#include "conv/im2col.hpp"

namespace fastbp {

// y = window maxima; argmax = the first maximum in (kh, kw) order. A NaN in a window wins
// (NaN propagates, as in NumPy): the first NaN is taken. With relu, y is bitwise the
// pooling of relu(x) (a ReLU fused before the pooling), while argmax still indexes x's
// maxima: pass y as the gate of max_pool2d_backward to get relu(x)'s gradient.
template <class T>
void max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const ConvGeom& g,
                        bool relu = false);

// max_pool2d_forward of `planes` planes (each g.H x g.W) on the calling thread, argmax
// offset by `base` (the flat index of x's first element in a larger array).
template <class T>
void max_pool2d_planes(T* y, std::int64_t* argmax, const T* x, std::int64_t planes,
                       std::int64_t base, const ConvGeom& g, bool relu);

// The sizes max_pool2d_backward needs: planes = N * C; x planes H x W; dout planes OH x OW.
struct PoolShape {
  std::int64_t planes, OH, OW, H, W;
};

// dx (planes * H * W) = 0, then dx.ravel()[argmax[i]] += dout[i] for every i, in index
// order, for dout and argmax of planes * OH * OW entries. Returns -1, or, when an argmax
// entry lies outside [0, planes * H * W), the position of the first such entry (dx is
// then unspecified). Planes run in parallel when each one's indices stay inside its own
// plane (always true for argmax from max_pool2d_forward); otherwise the scatter runs on
// one thread. A non-null gate (the y of a relu forward, like dout) passes dout[i] only
// where gate[i] > 0: dx is then bitwise relu_backward of the unfused gradient.
template <class T>
std::int64_t max_pool2d_backward(T* dx, const T* dout, const std::int64_t* argmax,
                                 const PoolShape& s, const T* gate = nullptr);

// max_pool2d_backward of `planes` planes on the calling thread, into dx (planes * H * W),
// whose first element has flat index `base` in the array argmax indexes; s.planes is not
// used. False, with dx partly written, when an index lies outside its own plane.
template <class T>
bool max_pool2d_backward_planes(T* dx, const T* dout, const std::int64_t* argmax,
                                const T* gate, std::int64_t planes, std::int64_t base,
                                const PoolShape& s);

// y = window means.
template <class T>
void avg_pool2d_forward(T* y, const T* x, const ConvGeom& g);

// dx = each dout spread evenly (dout / (KH * KW)) over its window, overlaps summed.
template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const ConvGeom& g);

}  // namespace fastbp
