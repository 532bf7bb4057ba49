// AVX2 Winograd F(2x2, 3x3) sample routines (this unit is built with -mavx2 -mfma).
// Contracts and formulas in conv/winograd.hpp.
//
// Per block of tile rows: the input transform writes V (16, rows, cols) with 8 tiles of one
// tile row per vector; 16 GEMMs by the AVX2 GEMM micro-kernel (6 x 16 tiles); then the
// output transform (forward), or the accumulation into the transformed weight gradient.
#include <immintrin.h>

#include <algorithm>

#include "conv/winograd.hpp"
#include "gemm/kernels/kernels.hpp"

namespace fastbp::winograd {

namespace {

constexpr int MR = 6, NR = 16;  // the AVX2 float32 micro-kernel's tile

gemm_kernels::MicroKernel<float> micro_kernel() { return gemm_kernels::avx2_table().f32.kernel; }

// Lanes [0, n) set, n in [0, 8].
__m256i first_lanes(std::int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The four 64-bit quarters of v in the order 0, 2, 1, 3.
__m256 interleave_halves(__m256 v) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}
// Even and odd elements of the 16 floats lo, hi (in order).
__m256 evens(__m256 lo, __m256 hi) {  // l0 l2 h0 h2 l4 l6 h4 h6, then reordered
  return interleave_halves(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
}
__m256 odds(__m256 lo, __m256 hi) {
  return interleave_halves(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
}

// xw (C, XH, XW) = x_n (C, H, W) at offset (PH, PW), zeros elsewhere (XH >= H + PH,
// XW >= W + PW: see make_shape).
// Rows are short (tens of floats): plain loops, not calls to memset and memcpy per row.
void pad_image(float* xw, const float* x_n, const Shape& s) {
  for (std::int64_t c = 0; c < s.C; ++c) {
    float* plane = xw + c * s.XH * s.XW;
    for (std::int64_t i = 0; i < s.PH * s.XW; ++i) plane[i] = 0.0f;
    for (std::int64_t h = 0; h < s.H; ++h) {
      float* row = plane + (h + s.PH) * s.XW;
      const float* src = x_n + (c * s.H + h) * s.W;
      for (std::int64_t i = 0; i < s.PW; ++i) row[i] = 0.0f;
      for (std::int64_t i = 0; i < s.W; ++i) row[s.PW + i] = src[i];
      for (std::int64_t i = s.PW + s.W; i < s.XW; ++i) row[i] = 0.0f;
    }
    for (std::int64_t i = (s.H + s.PH) * s.XW; i < s.XH * s.XW; ++i) plane[i] = 0.0f;
  }
}

// Zeros in columns [used, cols) of rows [0, rows) and in rows [rows, all_rows) of each of
// the 16 planes (e_stride apart) of a (all_rows, cols) operand.
void zero_unused(float* planes, std::int64_t e_stride, std::int64_t all_rows,
                 std::int64_t rows, std::int64_t cols, std::int64_t used) {
  for (int e = 0; e < 16; ++e) {
    float* plane = planes + e * e_stride;
    if (used < cols)
      for (std::int64_t r = 0; r < rows; ++r)
        std::fill(plane + r * cols + used, plane + (r + 1) * cols, 0.0f);
    std::fill(plane + rows * cols, plane + all_rows * cols, 0.0f);
  }
}

// v (16 planes of e_stride, each (v_rows, cols)) = B^T d B for the tiles of tile rows
// [ty0, ty0 + rows) of every channel (column r * TWp + tx for tile (ty0 + r, tx)); other
// columns and rows >= C are zero.
void transform_input(float* v, std::int64_t e_stride, std::int64_t v_rows, std::int64_t cols,
                     const float* xw, std::int64_t ty0, std::int64_t rows, const Shape& s) {
  zero_unused(v, e_stride, v_rows, s.C, cols, rows * s.TWp);
  for (std::int64_t c = 0; c < s.C; ++c) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* x_row = xw + (c * s.XH + 2 * (ty0 + r)) * s.XW;
      for (std::int64_t tx0 = 0; tx0 < s.TWp; tx0 += 8) {
        __m256 t[4][4];  // row i of the patch, then d B
        for (int i = 0; i < 4; ++i) {
          const float* p = x_row + i * s.XW + 2 * tx0;  // lane l: patch columns 2 l + j
          const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
          const __m256 lo2 = _mm256_loadu_ps(p + 2), hi2 = _mm256_loadu_ps(p + 10);
          const __m256 d0 = evens(lo, hi), d1 = odds(lo, hi);
          const __m256 d2 = evens(lo2, hi2), d3 = odds(lo2, hi2);
          t[i][0] = _mm256_sub_ps(d0, d2);
          t[i][1] = _mm256_add_ps(d1, d2);
          t[i][2] = _mm256_sub_ps(d2, d1);
          t[i][3] = _mm256_sub_ps(d1, d3);
        }
        float* out = v + c * cols + r * s.TWp + tx0;
        for (int j = 0; j < 4; ++j) {
          _mm256_storeu_ps(out + (0 * 4 + j) * e_stride, _mm256_sub_ps(t[0][j], t[2][j]));
          _mm256_storeu_ps(out + (1 * 4 + j) * e_stride, _mm256_add_ps(t[1][j], t[2][j]));
          _mm256_storeu_ps(out + (2 * 4 + j) * e_stride, _mm256_sub_ps(t[2][j], t[1][j]));
          _mm256_storeu_ps(out + (3 * 4 + j) * e_stride, _mm256_sub_ps(t[1][j], t[3][j]));
        }
      }
    }
  }
}

// y rows 2 ty, 2 ty + 1 of every filter (from row r of the block, ty = ty0 + r) =
// A^T m A (+ b), m (16 planes of fwd_m_plane, each (Kp6, cols)) the block's GEMM results.
void transform_output(float* y_n, const float* m, std::int64_t cols, const float* b,
                      std::int64_t ty0, std::int64_t rows, const Shape& s) {
  const std::int64_t e_stride = s.fwd_m_plane;
  for (std::int64_t k = 0; k < s.K; ++k) {
    const __m256 bias = _mm256_set1_ps(b != nullptr ? b[k] : 0.0f);
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t oy = 2 * (ty0 + r);
      for (std::int64_t tx0 = 0; tx0 < s.TW; tx0 += 8) {
        const float* in = m + k * cols + r * s.TWp + tx0;
        __m256 t[2][4];  // A^T m
        for (int j = 0; j < 4; ++j) {
          const __m256 m0 = _mm256_loadu_ps(in + (0 * 4 + j) * e_stride);
          const __m256 m1 = _mm256_loadu_ps(in + (1 * 4 + j) * e_stride);
          const __m256 m2 = _mm256_loadu_ps(in + (2 * 4 + j) * e_stride);
          const __m256 m3 = _mm256_loadu_ps(in + (3 * 4 + j) * e_stride);
          t[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
          t[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
        }
        const std::int64_t ox = 2 * tx0, width = std::min<std::int64_t>(16, s.OW - ox);
        for (int i = 0; i < 2 && oy + i < s.OH; ++i) {
          __m256 y0 = _mm256_add_ps(_mm256_add_ps(t[i][0], t[i][1]), t[i][2]);  // columns 2 l
          __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(t[i][1], t[i][2]), t[i][3]);  // 2 l + 1
          y0 = _mm256_add_ps(y0, bias);
          y1 = _mm256_add_ps(y1, bias);
          const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
          const __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20);   // columns 0-7
          const __m256 second = _mm256_permute2f128_ps(lo, hi, 0x31);  // columns 8-15
          float* out = y_n + (k * s.OH + oy + i) * s.OW + ox;
          if (width == 16) {
            _mm256_storeu_ps(out, first);
            _mm256_storeu_ps(out + 8, second);
          } else {
            _mm256_maskstore_ps(out, first_lanes(std::min<std::int64_t>(width, 8)), first);
            if (width > 8) _mm256_maskstore_ps(out + 8, first_lanes(width - 8), second);
          }
        }
      }
    }
  }
}

// dt (16 planes of dw_dt_plane, each (cols, Kp16)) = A h A^T for the tiles of the block's
// rows, h the 2 x 2 dout of each filter, from doutT (2 rows, 2 TWp, Kp16): the block's
// dout, channels last (zero past the edges). Rows for tiles past the block's are zero.
void transform_dout(float* dt, std::int64_t cols, const float* dout_t, std::int64_t rows,
                    const Shape& s) {
  for (int e = 0; e < 16; ++e) {
    float* plane = dt + e * s.dw_dt_plane;
    std::fill(plane + rows * s.TWp * s.Kp16, plane + cols * s.Kp16, 0.0f);
  }
  const std::int64_t row_stride = 2 * s.TWp * s.Kp16, e_stride = s.dw_dt_plane;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t tx = 0; tx < s.TWp; ++tx) {
      const float* h0 = dout_t + (2 * r * 2 * s.TWp + 2 * tx) * s.Kp16;  // dout row 2 r
      const float* h1 = h0 + row_stride;                                // row 2 r + 1
      float* out = dt + (r * s.TWp + tx) * s.Kp16;
      for (std::int64_t k = 0; k < s.Kp16; k += 8) {
        const __m256 h00 = _mm256_loadu_ps(h0 + k), h01 = _mm256_loadu_ps(h0 + s.Kp16 + k);
        const __m256 h10 = _mm256_loadu_ps(h1 + k), h11 = _mm256_loadu_ps(h1 + s.Kp16 + k);
        // A h: rows h0, h0 + h1, h0 - h1, -h1 (per column j)
        const __m256 zero = _mm256_setzero_ps();
        const __m256 a[4][2] = {{h00, h01},
                                {_mm256_add_ps(h00, h10), _mm256_add_ps(h01, h11)},
                                {_mm256_sub_ps(h00, h10), _mm256_sub_ps(h01, h11)},
                                {_mm256_sub_ps(zero, h10), _mm256_sub_ps(zero, h11)}};
        for (int i = 0; i < 4; ++i) {  // (A h) A^T: the same along the row
          float* o = out + (4 * i) * e_stride + k;
          _mm256_storeu_ps(o, a[i][0]);
          _mm256_storeu_ps(o + e_stride, _mm256_add_ps(a[i][0], a[i][1]));
          _mm256_storeu_ps(o + 2 * e_stride, _mm256_sub_ps(a[i][0], a[i][1]));
          _mm256_storeu_ps(o + 3 * e_stride, _mm256_sub_ps(zero, a[i][1]));
        }
      }
    }
  }
}

// doutT (2 rows, 2 TWp, Kp16) = dout_n rows [2 ty0, 2 ty0 + 2 rows) channels last, zero past
// OH, OW and K. Whole 8 x 8 blocks by register transposes, the rest element by element.
void transpose_dout(float* dout_t, const float* dout_n, std::int64_t ty0, std::int64_t rows,
                    const Shape& s) {
  const std::int64_t XW2 = 2 * s.TWp;  // positions per dout row in dout_t
  const std::int64_t y_end = std::min(2 * rows, s.OH - 2 * ty0);
  if (y_end < 2 * rows || s.OW < XW2 || s.K < s.Kp16)  // some entries are not written below
    std::fill(dout_t, dout_t + 2 * rows * XW2 * s.Kp16, 0.0f);
  for (std::int64_t yy = 0; yy < y_end; ++yy) {
    const float* src = dout_n + (2 * ty0 + yy) * s.OW;  // + k * OH * OW + x
    float* dst = dout_t + yy * XW2 * s.Kp16;           // + x * Kp16 + k
    const std::int64_t plane = s.OH * s.OW;
    std::int64_t k = 0;
    for (; k + 8 <= s.K; k += 8) {
      std::int64_t x = 0;
      for (; x + 8 <= s.OW; x += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (k + i) * plane + x);
        const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 cols[8] = {
            _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
            _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
            _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
            _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (x + i) * s.Kp16 + k, cols[i]);
      }
      for (; x < s.OW; ++x)
        for (int i = 0; i < 8; ++i) dst[x * s.Kp16 + k + i] = src[(k + i) * plane + x];
    }
    for (; k < s.K; ++k)
      for (std::int64_t x = 0; x < s.OW; ++x) dst[x * s.Kp16 + k] = src[k * plane + x];
  }
}

}  // namespace

void forward_f32_avx2(float* y_n, const float* x_n, const float* u, const float* b,
                      const Shape& s, float* scratch) {
  const auto kernel = micro_kernel();
  const std::int64_t cols = s.cols_fwd;
  float* xw = scratch;
  float* v = xw + s.C * s.XH * s.XW;  // 16 planes (C, cols)
  float* m = v + 16 * s.fwd_v_plane;   // 16 planes (Kp6, cols)
  pad_image(xw, x_n, s);
  for (std::int64_t ty0 = 0; ty0 < s.TH; ty0 += s.rows_fwd) {
    const std::int64_t rows = std::min(s.rows_fwd, s.TH - ty0);
    transform_input(v, s.fwd_v_plane, s.C, cols, xw, ty0, rows, s);
    // m[e] (Kp6, cols) = u[e] (Kp6, C) @ v[e] (C, cols)
    for (int e = 0; e < 16; ++e) {
      const float* v_e = v + e * s.fwd_v_plane;
      float* m_e = m + e * s.fwd_m_plane;
      for (std::int64_t kp = 0; kp < s.Kp6; kp += MR) {
        const float* u_panel = u + (e * s.Kp6 + kp) * s.C;
        for (std::int64_t col = 0; col < cols; col += NR)
          kernel(s.C, 1.0f, u_panel, 1, MR, v_e + col, cols, 0.0f, m_e + kp * cols + col, cols,
                 MR, NR);
      }
    }
    transform_output(y_n, m, cols, b, ty0, rows, s);
  }
}

void dw_f32_avx2(float* acc, const float* dout_n, const float* x_n, const Shape& s,
                 bool accumulate, float* scratch) {
  const auto kernel = micro_kernel();
  const std::int64_t cols = s.cols_dw;
  float* xw = scratch;
  float* v = xw + s.C * s.XH * s.XW;   // 16 planes (Cp6, cols)
  float* dt = v + 16 * s.dw_v_plane;     // 16 planes (cols, Kp16)
  float* dout_t = dt + 16 * s.dw_dt_plane;  // (2 rows, 2 TWp, Kp16)
  pad_image(xw, x_n, s);
  for (std::int64_t ty0 = 0; ty0 < s.TH; ty0 += s.rows_dw) {
    const std::int64_t rows = std::min(s.rows_dw, s.TH - ty0);
    transform_input(v, s.dw_v_plane, s.Cp6, cols, xw, ty0, rows, s);
    transpose_dout(dout_t, dout_n, ty0, rows, s);
    transform_dout(dt, cols, dout_t, rows, s);
    // acc[e] (Cp6, Kp16) (+)= v[e] (Cp6, cols) @ dt[e] (cols, Kp16)
    const float beta = accumulate || ty0 > 0 ? 1.0f : 0.0f;
    for (int e = 0; e < 16; ++e) {
      const float* v_e = v + e * s.dw_v_plane;
      const float* dt_e = dt + e * s.dw_dt_plane;
      float* acc_e = acc + e * s.Cp6 * s.Kp16;
      for (std::int64_t cp = 0; cp < s.Cp6; cp += MR)
        for (std::int64_t kp = 0; kp < s.Kp16; kp += NR)
          kernel(cols, 1.0f, v_e + cp * cols, cols, 1, dt_e + kp, s.Kp16, beta,
                 acc_e + cp * s.Kp16 + kp, s.Kp16, MR, NR);
    }
  }
}

}  // namespace fastbp::winograd
