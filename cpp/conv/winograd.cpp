// The portable part of the Winograd convolution (contracts in conv/winograd.hpp): when it
// applies and its sizes.
#include "conv/winograd.hpp"

#include <algorithm>
#include <numeric>

#include "runtime/context.hpp"

namespace fastbp::winograd {

namespace {

// Fewer channels than this on either side leave the per-position GEMMs too thin to beat
// the direct kernels.
constexpr std::int64_t kMinChannels = 16;

// Transformed operands of one block of tiles should stay in L2 (half of a 512 KiB L2).
constexpr std::int64_t kBlockBytes = 256 * 1024;

std::int64_t round_up(std::int64_t n, std::int64_t m) { return (n + m - 1) / m * m; }

// Rows per block of tile rows (`tile_rows` rows of `row_tiles` tiles, `floats_per_tile`
// floats of transformed data per tile): as many as the budget allows, evened out over the
// blocks that takes, then rounded up so that the block fills whole nr-column panels of the
// micro-kernel.
std::int64_t block_rows(std::int64_t tile_rows, std::int64_t row_tiles,
                        std::int64_t floats_per_tile, std::int64_t nr) {
  const std::int64_t per_row =
      floats_per_tile * row_tiles * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t most = std::clamp<std::int64_t>(kBlockBytes / per_row, 1, tile_rows);
  const std::int64_t blocks = (tile_rows + most - 1) / most;
  const std::int64_t rows = (tile_rows + blocks - 1) / blocks;
  const std::int64_t step = nr / std::gcd<std::int64_t>(row_tiles, nr);  // rows per panel
  return std::min(round_up(rows, step), tile_rows);
}

}  // namespace

bool applies(const ConvGeom& g, std::int64_t K) {
  return kernel_context().winograd != nullptr && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 &&
         g.C >= kMinChannels && K >= kMinChannels;
}

Shape make_shape(const ConvGeom& g, std::int64_t K) {
  const Kernels& kernels = *kernel_context().winograd;
  const std::int64_t mr = kernels.mr, nr = kernels.nr, lanes = kernels.lanes;
  Shape s{};
  s.C = g.C, s.K = K, s.H = g.H, s.W = g.W, s.PH = g.PH, s.PW = g.PW, s.OH = g.OH, s.OW = g.OW;
  s.Cp = round_up(s.C, mr);
  s.Kp = round_up(K, mr);
  s.Kn = round_up(K, nr);
  s.panels = s.Kp / mr;
  s.FH = (g.OH + 3) / 4;
  s.FW = (g.OW + 3) / 4;
  s.FWp = round_up(s.FW, 4);
  s.FXW = 4 * s.FWp + 4;
  s.TH = (g.OH + 1) / 2;
  s.TW = (g.OW + 1) / 2;
  s.TWp = round_up(s.TW, lanes);
  s.XH = 2 * s.TH + 2;
  s.XW = 2 * s.TWp + 2;
  s.rows_fwd = block_rows(s.FH, s.FWp, 36 * (s.C + s.Kp), nr);
  s.cols_fwd = round_up(s.rows_fwd * s.FWp, nr);
  s.blocks_fwd = (s.FH + s.rows_fwd - 1) / s.rows_fwd;
  s.rows_dw = block_rows(s.TH, s.TWp, 16 * (s.Cp + s.Kn) + 4 * s.Kn, nr);
  s.cols_dw = round_up(s.rows_dw * s.TWp, nr);
  s.blocks_dw = (s.TH + s.rows_dw - 1) / s.rows_dw;
  constexpr std::int64_t kLine = 16;  // floats
  s.fwd_v_plane = s.C * s.cols_fwd + kLine;
  s.fwd_m_plane = s.Kp * s.cols_fwd + kLine;
  s.dw_v_plane = s.Cp * s.cols_dw + kLine;
  s.dw_dt_plane = s.cols_dw * s.Kn + kLine;
  return s;
}

std::int64_t filters_numel(const Shape& s) { return 36 * s.Kp * s.C; }

std::int64_t dw_acc_numel(const Shape& s) { return 16 * s.Cp * s.Kn; }

std::int64_t forward_scratch_numel(const Shape& s) {
  return s.C * (4 * s.rows_fwd + 2) * s.FXW + kImageSlack +
         36 * (s.fwd_v_plane + s.fwd_m_plane);
}

std::int64_t dw_scratch_numel(const Shape& s) {
  return s.C * s.XH * s.XW + kImageSlack + 16 * (s.dw_v_plane + s.dw_dt_plane) +
         4 * s.rows_dw * s.TWp * s.Kn;
}

}  // namespace fastbp::winograd
