// Winograd convolution for 3x3, stride-1 filters (float32; kernels from the context): the forward (and so dx) by
// F(4x4, 3x3), 36 multiplies per 4x4 block of outputs ("tile") and channel pair instead of
// 144; the weight gradient by F(2x2, 3x3) (16 instead of 36 per 2x2 tile).
//
// Legend: as in conv/im2col.hpp, K = out channels. For F(m x m, 3x3) with n = m + 2: tiles
// are ceil(OH / m) x ceil(OW / m); d is the n x n input patch of a tile (padded image rows
// m ty .. m ty + n - 1, likewise columns), e = n i + j indexes the n x n transformed
// positions, and
//   forward   y_tile (m x m)   = A^T [ sum_c (G w[k, c] G^T) * (B^T d_c B) ] A
//   dw        dw[k, c] (3 x 3) = G^T [ sum_tiles (A dout_tile[k] A^T) * (B^T d_c B) ] G
// (* elementwise; dw is the same identity read the other way). F(2x2, 3x3):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// F(4x4, 3x3), interpolating at 0, +-1, +-2 and infinity:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
//          0 4 0 -5 0 1],
//   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
// Per position e these are GEMMs: y: (K x C) @ (C x tiles); dw: (C x tiles) @ (tiles x K).
// dx is the forward of dout with the flipped filters (as for the direct kernels). The sums
// run in a fixed order, so results do not depend on threads.
//
// Tiles are processed in blocks of whole tile rows, each row padded to a multiple of the
// tiles one vector transforms together (forward: quads of 4 tiles, lanes / 4 quads per
// vector; dw: `lanes` tiles of one row), and blocks sized so that their transformed operands
// stay in L2. The padding follows the active context's geometry (Kernels::mr, nr, lanes:
// AVX2 6 x 16 tiles and 8-float vectors, AVX-512 12 x 32 and 16).
#pragma once

#include <cstdint>

#include "conv/im2col.hpp"

namespace fastbp::winograd {

// The sizes every Winograd routine of one convolution uses (conv g, K out channels).
struct Shape {
  std::int64_t C, K, H, W, PH, PW, OH, OW;
  std::int64_t Cp, Kp;  // C, K rounded up to the micro-kernel's rows (Kernels::mr)
  std::int64_t Kn;      // K rounded up to its columns (Kernels::nr)
  std::int64_t panels;  // panels of the transformed filters: Kp / mr
  // Forward, F(4x4, 3x3): FH x FW tiles, FWp = FW rounded up to 4 (a quad); its padded
  // image has FXW = 4 FWp + 4 columns (a block of r tile rows reads 4 r + 2 rows of it).
  std::int64_t FH, FW, FWp, FXW;
  // Weight gradient, F(2x2, 3x3): TH x TW tiles, TWp = TW rounded up to the lanes of a
  // vector (Kernels::lanes); the padded image has XH = 2 TH + 2 rows and XW = 2 TWp + 2
  // columns.
  std::int64_t TH, TW, TWp, XH, XW;
  std::int64_t rows_fwd, cols_fwd;  // forward: tile rows per block, block columns (x nr)
  std::int64_t blocks_fwd;          // forward: blocks per sample
  std::int64_t rows_dw, cols_dw;    // weight gradient: likewise
  std::int64_t blocks_dw;           // weight gradient: blocks per sample
  // Elements between the planes of each transformed operand: forward input (C, cols_fwd)
  // and GEMM results (Kp, cols_fwd), 36 planes each; weight-gradient input (Cp, cols_dw)
  // and dout (cols_dw, Kn), 16 each. Padded by a cache line, so that planes a multiple of
  // 4 KiB long do not all fall in the same L1 set.
  std::int64_t fwd_v_plane, fwd_m_plane, dw_v_plane, dw_dt_plane;
};

// True when the convolution (float32) can and should run by Winograd: the active context has
// Winograd kernels, 3x3 filters, stride 1, and enough channels on both sides for the GEMMs
// (a function of the shape only, for one context).
bool applies(const ConvGeom& g, std::int64_t K);

// The sizes for the active context's Winograd kernels (call only where applies() holds).
Shape make_shape(const ConvGeom& g, std::int64_t K);

// Elements of the transformed filters u (36, panels, C, mr): see Kernels::transform_filters.
std::int64_t filters_numel(const Shape& s);

// Elements of the weight-gradient accumulator (16, Cp, Kn): see Kernels::dw.
std::int64_t dw_acc_numel(const Shape& s);

// Per-thread scratch (elements) of the sample routines below: each starts with a padded
// image and kImageSlack floats that its row copies may overrun.
inline constexpr std::int64_t kImageSlack = 8;
std::int64_t forward_scratch_numel(const Shape& s);
std::int64_t dw_scratch_numel(const Shape& s);

// The Winograd part of a kernel context (runtime/context.hpp; conv/kernels/<isa>/), float32,
// every routine single-threaded.
struct Kernels {
  // The geometry make_shape pads to: the rows mr and columns nr of the float32 GEMM
  // micro-kernel the routines call, and the floats of one vector (tiles transformed together).
  int mr, nr, lanes;

  // Panel `panel` (of s.panels) of the transformed filters u (36, panels, C, mr) = G w[k, c]
  // G^T (F(4x4, 3x3)), packed as the micro-kernel's A panels (rows k >= K zero), from w (K,
  // C, 3, 3). Computed in double and rounded once: as exact as float32 allows.
  void (*transform_filters)(float* u, const float* w, const Shape& s, std::int64_t panel);

  // Block `block` (of blocks_fwd) of y_n (K, OH, OW) = the convolution of x_n (C, H, W)
  // with the filters u, plus b (null: none): output rows [4 rows_fwd block, 4 rows_fwd
  // (block + 1)). Blocks are independent.
  void (*forward)(float* y_n, const float* x_n, const float* u, const float* b,
                  const Shape& s, std::int64_t block, float* scratch);

  // One sample's blocks [block0, block1) (of blocks_dw): acc (16, Cp, Kn) = (accumulate ?
  // acc : 0) + their transformed dw, from dout_n (K, OH, OW) and x_n (C, H, W).
  void (*dw)(float* acc, const float* dout_n, const float* x_n, const Shape& s,
             std::int64_t block0, std::int64_t block1, bool accumulate, float* scratch);

  // Filters [k0, k0 + lanes) (k0 a multiple of lanes) of dw (K, C, 3, 3) = G^T acc G (F(2x2, 3x3)),
  // acc the sum, in order, of the `count` accumulators (16, Cp, Kn) at accs + i * stride.
  void (*finish_dw)(float* dw, const float* accs, std::int64_t count, std::int64_t stride,
                    const Shape& s, std::int64_t k0);
};

}  // namespace fastbp::winograd
