// 2-D convolution (cross-correlation, as in PyTorch), NCHW: by im2col + GEMM, or for float32
// with the kernels of the active context (runtime/context.hpp) either by Winograd (conv/winograd.hpp: 3x3 filters, stride 1, at least 16
// channels in and out; F(4x4, 3x3) forward, F(2x2, 3x3) weight gradient) or, with stride 1
// along rows and one sample's image and dout within L2, by the direct kernels of
// conv/kernels/conv_kernels.hpp. Neither needs a col buffer; for stride 1 both compute dx as
// the forward of dout, padded by (KH - 1 - PH, KW - 1 - PW), with the filters flipped and
// transposed.
//
// Legend: as in conv/im2col.hpp, plus OC out channels.
//   x (N, C, H, W), w (OC, C, KH, KW) = (OC, CKK), b (OC,), y and dout (N, OC, OH, OW).
// Per sample n, with col_n (CKK, P) = im2col_sample(x_n):
//   forward   y_n (OC, P)     = w (OC, CKK) @ col_n (CKK, P) + b     GEMM M=OC  N=P   K=CKK
//   dw        (OC, CKK)      += dout_n (OC, P) @ col_n^T (P, CKK)     GEMM M=OC  N=CKK K=P
//   dx        dcol_n (CKK, P) = w^T (CKK, OC) @ dout_n (OC, P)        GEMM M=CKK N=P   K=OC
//             dx_n = col2im_sample(dcol_n)
//   db        (OC,)          += row sums of dout_n (OC, P)
// Threads: samples are split over threads (each running single-threaded GEMMs, since nested
// OpenMP regions are inactive) when the batch is large enough, else the GEMMs thread
// themselves. Winograd's forward splits each sample further into independent blocks of
// output rows, and so does its dx when the batch is too small for the backward's chunks.
// The algorithm is a function of the shapes only, never of the thread count. Samples and
// blocks (forward) and chunks (backward) are handed out dynamically, which only decides who
// computes them, not what: dw and db are summed per fixed chunk of samples (the chunk size
// depends on N only), and the chunk partials in chunk order, so results are bitwise
// identical for any thread count.
#pragma once

#include <cstdint>

#include "conv/im2col.hpp"
#include "conv/pool.hpp"

namespace fastbp {

// y (N, OC, OH, OW); b may be null (no bias).
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, const ConvGeom& g,
                    std::int64_t OC);

// The convolution, a ReLU and max pooling in one pass per sample, the convolution's output
// (N, OC, OH, OW) never stored: y and argmax are bitwise what max_pool2d_forward with relu
// (conv/pool.hpp) returns for conv2d_forward's output. pg: the pooling's geometry over that
// output (N, OC, OH, OW; no padding); argmax indexes the (unstored) output.
template <class T>
void conv2d_relu_max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const T* w,
                                    const T* b, const ConvGeom& g, std::int64_t OC,
                                    const ConvGeom& pg);

// The backward of conv2d_relu_max_pool2d_forward (its y and argmax; dout (N, OC, PH, PW)):
// conv2d_backward of relu_max_pool2d's gradient at the convolution's output, which is
// built one sample at a time in cache (when the indices stay in their planes, as the
// forward's do) instead of whole. ps: that pooling's sizes, planes = N * OC. Returns -1,
// or the position of the first argmax entry outside the output (dx, dw, db unspecified).
template <class T>
std::int64_t conv2d_relu_max_pool2d_backward(T* dx, T* dw, T* db, const T* dout,
                                             const std::int64_t* argmax, const T* y,
                                             const T* x, const T* w, const ConvGeom& g,
                                             std::int64_t OC, const PoolShape& ps);

// dx (N, C, H, W), dw (OC, C, KH, KW), db (OC,) from dout (N, OC, OH, OW); all overwritten.
// dx may be null: the first layer of a network needs no input gradient, and skipping it
// saves one of the three GEMMs and the col2im.
template <class T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w,
                     const ConvGeom& g, std::int64_t OC);

}  // namespace fastbp
