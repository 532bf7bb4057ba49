// The portable part of the Winograd convolution (contracts in conv/winograd.hpp): when it
// applies, its sizes, and the two small transforms that run once per call (filters, dw).
#include "conv/winograd.hpp"

#include <algorithm>

#include "runtime/cpu.hpp"

namespace fastbp::winograd {

namespace {

// G (4 x 3): the filter transform.
constexpr float kG[4][3] = {{1.0f, 0.0f, 0.0f}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f},
                            {0.0f, 0.0f, 1.0f}};

// Fewer channels than this on either side leave the per-position GEMMs too thin to beat
// the direct kernels.
constexpr std::int64_t kMinChannels = 16;

// Transformed operands of one block of tiles should stay in L2 (half of a 512 KiB L2).
constexpr std::int64_t kBlockBytes = 256 * 1024;

std::int64_t round_up(std::int64_t n, std::int64_t m) { return (n + m - 1) / m * m; }

// Tile rows per block for `floats_per_tile` floats of transformed data per tile: as many as
// the budget allows, then evened out over the blocks that takes, and even when a row's
// tiles fill only half of the micro-kernel's 16 columns (block columns are a multiple of 16).
std::int64_t block_rows(const Shape& s, std::int64_t floats_per_tile) {
  const std::int64_t per_row = floats_per_tile * s.TWp * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t most = std::clamp<std::int64_t>(kBlockBytes / per_row, 1, s.TH);
  const std::int64_t blocks = (s.TH + most - 1) / most;
  const std::int64_t rows = (s.TH + blocks - 1) / blocks;
  return s.TWp % 16 != 0 && rows % 2 != 0 && rows < s.TH ? rows + 1 : rows;
}

}  // namespace

bool applies(const ConvGeom& g, std::int64_t K) {
  return active_isa() != Isa::generic && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 &&
         g.C >= kMinChannels && K >= kMinChannels;
}

Shape make_shape(const ConvGeom& g, std::int64_t K) {
  Shape s{};
  s.C = g.C, s.K = K, s.H = g.H, s.W = g.W, s.PH = g.PH, s.PW = g.PW, s.OH = g.OH, s.OW = g.OW;
  s.TH = (g.OH + 1) / 2;
  s.TW = (g.OW + 1) / 2;
  s.TWp = round_up(s.TW, 8);
  s.XH = 2 * s.TH + 2;
  s.XW = 2 * s.TWp + 2;
  s.Cp6 = round_up(s.C, 6);
  s.Kp6 = round_up(K, 6);
  s.Kp16 = round_up(K, 16);
  s.rows_fwd = block_rows(s, 16 * (s.C + s.Kp6));
  s.cols_fwd = round_up(s.rows_fwd * s.TWp, 16);
  s.rows_dw = block_rows(s, 16 * (s.Cp6 + s.Kp16) + 4 * s.Kp16);
  s.cols_dw = round_up(s.rows_dw * s.TWp, 16);
  constexpr std::int64_t kLine = 16;  // floats
  s.fwd_v_plane = s.C * s.cols_fwd + kLine;
  s.fwd_m_plane = s.Kp6 * s.cols_fwd + kLine;
  s.dw_v_plane = s.Cp6 * s.cols_dw + kLine;
  s.dw_dt_plane = s.cols_dw * s.Kp16 + kLine;
  return s;
}

std::int64_t filters_numel(const Shape& s) { return 16 * s.Kp6 * s.C; }

void transform_filters(float* u, const float* w, const Shape& s) {
  std::fill(u, u + filters_numel(s), 0.0f);
  for (std::int64_t k = 0; k < s.K; ++k) {
    for (std::int64_t c = 0; c < s.C; ++c) {
      const float* g = w + (k * s.C + c) * 9;  // (3, 3)
      float gg[4][3];                          // G g
      for (int a = 0; a < 4; ++a)
        for (int j = 0; j < 3; ++j)
          gg[a][j] = kG[a][0] * g[j] + kG[a][1] * g[3 + j] + kG[a][2] * g[6 + j];
      for (int a = 0; a < 4; ++a) {
        for (int b = 0; b < 4; ++b) {
          const float v = gg[a][0] * kG[b][0] + gg[a][1] * kG[b][1] + gg[a][2] * kG[b][2];
          const std::int64_t e = 4 * a + b, panel = k / 6;
          u[((e * (s.Kp6 / 6) + panel) * s.C + c) * 6 + k % 6] = v;  // G g G^T
        }
      }
    }
  }
}

std::int64_t dw_acc_numel(const Shape& s) { return 16 * s.Cp6 * s.Kp16; }

void finish_dw(float* dw, const float* acc, const Shape& s) {
  for (std::int64_t k = 0; k < s.K; ++k) {
    for (std::int64_t c = 0; c < s.C; ++c) {
      float m[4][4];  // the transformed gradient of (k, c)
      for (int e = 0; e < 16; ++e) m[e / 4][e % 4] = acc[(e * s.Cp6 + c) * s.Kp16 + k];
      float* out = dw + (k * s.C + c) * 9;
      for (int a = 0; a < 3; ++a) {
        float gm[4];  // row a of G^T m
        for (int j = 0; j < 4; ++j)
          gm[j] = kG[0][a] * m[0][j] + kG[1][a] * m[1][j] + kG[2][a] * m[2][j] +
                  kG[3][a] * m[3][j];
        for (int b = 0; b < 3; ++b)
          out[3 * a + b] =
              gm[0] * kG[0][b] + gm[1] * kG[1][b] + gm[2] * kG[2][b] + gm[3] * kG[3][b];
      }
    }
  }
}

std::int64_t forward_scratch_numel(const Shape& s) {
  return s.C * s.XH * s.XW + 16 * (s.fwd_v_plane + s.fwd_m_plane);
}

std::int64_t dw_scratch_numel(const Shape& s) {
  return s.C * s.XH * s.XW + 16 * (s.dw_v_plane + s.dw_dt_plane) +
         4 * s.rows_dw * s.TWp * s.Kp16;
}

}  // namespace fastbp::winograd
