// Convolution geometry, im2col and col2im on NCHW images.
//
// Legend: N batch, C in channels, H W input height and width, KH KW kernel,
//   SH SW stride, PH PW zero padding, OH OW output height and width,
//   P = OH * OW output positions per image, CKK = C * KH * KW.
//   OH = (H + 2 PH - KH) / SH + 1, OW likewise.
// Public layout ("rows"): cols (N * P, CKK), rows ordered (n, oh, ow), columns (c, kh, kw).
// Per-sample layout ("transposed", used inside the convolution): col (CKK, P), so that
//   W (OC, CKK) @ col gives one sample's (OC, OH, OW) output directly.
#pragma once

#include <cstdint>

namespace fastbp {

struct ConvGeom {
  std::int64_t N, C, H, W;
  std::int64_t KH, KW, SH, SW, PH, PW;
  std::int64_t OH, OW;

  std::int64_t P() const { return OH * OW; }
  std::int64_t CKK() const { return C * KH * KW; }
  std::int64_t image() const { return C * H * W; }  // elements of one input sample
  std::int64_t padded_image() const { return C * (H + 2 * PH) * (W + 2 * PW); }
};

// Checks the configuration and fills OH, OW. Throws std::invalid_argument, naming `op`,
// for a kernel or stride < 1, a negative padding, or an empty output (H + 2 PH < KH).
ConvGeom make_conv_geom(const char* op, std::int64_t N, std::int64_t C, std::int64_t H,
                        std::int64_t W, std::int64_t KH, std::int64_t KW, std::int64_t SH,
                        std::int64_t SW, std::int64_t PH, std::int64_t PW);

// cols (N * P, CKK) from x (N, C, H, W); padding reads as zero.
template <class T>
void im2col(T* cols, const T* x, const ConvGeom& g);

// x (N, C, H, W) = sum of the entries of cols (N * P, CKK) that im2col took from each
// pixel (entries that fall in the padding are dropped).
template <class T>
void col2im(T* x, const T* cols, const ConvGeom& g);

// One sample, single-threaded: xp (C, H + 2 PH, W + 2 PW) = x_n with a border of zeros.
template <class T>
void pad_sample(T* xp, const T* x_n, const ConvGeom& g);

// One sample, single-threaded: col (CKK, P) from x_n (C, H, W). xp is a workspace of
// g.padded_image() elements (the zero-padded image).
template <class T>
void im2col_sample(T* col, const T* x_n, T* xp, const ConvGeom& g);

// One sample, single-threaded: x_n (C, H, W) = col2im of col (CKK, P); xp as above. Each
// pixel sums its contributions in (c, kh, kw, oh, ow) order.
template <class T>
void col2im_sample(T* x_n, const T* col, T* xp, const ConvGeom& g);

}  // namespace fastbp
