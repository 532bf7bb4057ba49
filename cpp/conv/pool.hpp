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
// (NaN propagates, as in NumPy): the first NaN is taken.
template <class T>
void max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const ConvGeom& g);

// dx (planes * plane_in) = 0, then dx.ravel()[argmax[i]] += dout[i] for every i, in index
// order, for dout and argmax of planes * plane_out entries. Returns -1, or, when an argmax
// entry lies outside [0, planes * plane_in), the position of the first such entry (dx is
// then unspecified). Planes run in parallel when each one's indices stay inside its own
// plane (always true for argmax from max_pool2d_forward); otherwise the scatter runs on
// one thread.
template <class T>
std::int64_t max_pool2d_backward(T* dx, const T* dout, const std::int64_t* argmax,
                                 std::int64_t planes, std::int64_t plane_out,
                                 std::int64_t plane_in);

// y = window means.
template <class T>
void avg_pool2d_forward(T* y, const T* x, const ConvGeom& g);

// dx = each dout spread evenly (dout / (KH * KW)) over its window, overlaps summed.
template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const ConvGeom& g);

}  // namespace fastbp
