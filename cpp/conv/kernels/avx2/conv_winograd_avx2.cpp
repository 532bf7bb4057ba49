// AVX2 Winograd routines (this unit is built with -mavx2 -mfma): the forward by F(4x4, 3x3),
// the weight gradient by F(2x2, 3x3). Contracts and formulas in conv/winograd.hpp.
//
// Per block of tile rows: the input transform writes one plane per transformed position
// (36 or 16), 8 tiles per vector (forward: two quads of 4 tiles; weight gradient: 8 tiles
// of one row); one GEMM per position by the AVX2 GEMM micro-kernel (6 x 16 tiles); then
// the output transform (forward), or the accumulation into the transformed weight gradient.
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/avx2/parts_avx2.hpp"
#include "runtime/kernels/avx2/lanes.hpp"
#include "runtime/sse_transpose.hpp"

namespace fastbp::winograd {

namespace {

using ::fastbp::avx2::first_lanes;

constexpr int MR = 6, NR = 16;  // the AVX2 float32 micro-kernel's tile

gemm_kernels::MicroKernel<float> micro_kernel() { return avx2::gemm_part().f32.kernel; }

std::int64_t round_up8(std::int64_t n) { return (n + 7) / 8 * 8; }

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

// xw (C, XH, XW) = rows [first, first + XH) of the zero-padded image (x_n (C, H, W) at
// offset (PH, PW), zeros elsewhere; W + 2 PW <= XW), plus kImageSlack floats. Rows are
// short (tens of floats): one fill, then each row by vectors, its last one padded with
// zeros (they land in the padding, or on the next row's pixels, which are copied after it).
void pad_rows(float* xw, std::int64_t first, std::int64_t XH, std::int64_t XW,
              const float* x_n, const Shape& s) {
  std::fill(xw, xw + s.C * XH * XW + kImageSlack, 0.0f);
  const std::int64_t W8 = s.W / 8 * 8;
  const __m256i tail = first_lanes(s.W - W8);
  const std::int64_t h0 = std::max<std::int64_t>(0, first - s.PH);
  const std::int64_t h1 = std::min(s.H, first + XH - s.PH);
  for (std::int64_t c = 0; c < s.C; ++c) {
    for (std::int64_t h = h0; h < h1; ++h) {
      const float* src = x_n + (c * s.H + h) * s.W;
      float* dst = xw + (c * XH + h + s.PH - first) * XW + s.PW;
      for (std::int64_t i = 0; i < W8; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
      if (W8 < s.W) _mm256_storeu_ps(dst + W8, _mm256_maskload_ps(src + W8, tail));
    }
  }
}

// Zeros in columns [used, cols) of rows [0, rows) and in rows [rows, all_rows) of each of
// the `count` planes (e_stride apart) of a (all_rows, cols) operand.
void zero_unused(float* planes, int count, std::int64_t e_stride, std::int64_t all_rows,
                 std::int64_t rows, std::int64_t cols, std::int64_t used) {
  for (int e = 0; e < count; ++e) {
    float* plane = planes + e * e_stride;
    if (used < cols)
      for (std::int64_t r = 0; r < rows; ++r)
        std::fill(plane + r * cols + used, plane + (r + 1) * cols, 0.0f);
    std::fill(plane + rows * cols, plane + all_rows * cols, 0.0f);
  }
}

// F(2x2, 3x3): v (16 planes of e_stride, each (v_rows, cols)) = B^T d B for the tiles of
// tile rows [ty0, ty0 + rows) of every channel (column r * TWp + tx for tile (ty0 + r, tx)),
// from xw (C, XH, XW); other columns and rows >= C are zero.
void transform_input_2x2(float* v, std::int64_t e_stride, std::int64_t v_rows,
                         std::int64_t cols, const float* xw, std::int64_t ty0,
                         std::int64_t rows, const Shape& s) {
  zero_unused(v, 16, e_stride, v_rows, s.C, cols, rows * s.TWp);
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

// F(4x4, 3x3): the 1-D input transform r = B^T d of six vectors.
void input_1d(const __m256 d[6], __m256 r[6]) {
  const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f),
               five = _mm256_set1_ps(5.0f);
  const __m256 p = _mm256_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const __m256 q = _mm256_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  const __m256 u = _mm256_sub_ps(d[4], d[2]);
  const __m256 w = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  r[1] = _mm256_add_ps(p, q);
  r[2] = _mm256_sub_ps(p, q);
  r[3] = _mm256_add_ps(u, w);
  r[4] = _mm256_sub_ps(u, w);
  r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

// F(4x4, 3x3): the 1-D output transform o = A^T m of six vectors.
void output_1d(const __m256 m[6], __m256 o[4]) {
  const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f),
               eight = _mm256_set1_ps(8.0f);
  const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
  const __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
  o[1] = _mm256_fmadd_ps(two, d, b);
  o[2] = _mm256_fmadd_ps(four, c, a);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(eight, d, b), m[5]);
}

// F(4x4, 3x3): the 1-D filter transform r = G g of three vectors (four filters' taps, in
// double), by G's structure: rows 1 and 2, and rows 3 and 4, differ only in the sign of g1.
void filter_1d(__m256d g0, __m256d g1, __m256d g2, __m256d r[6]) {
  const __m256d sixth = _mm256_set1_pd(-1.0 / 6);
  const __m256d outer = _mm256_add_pd(g0, g2);
  const __m256d near = _mm256_add_pd(_mm256_mul_pd(g0, _mm256_set1_pd(1.0 / 24)),
                                     _mm256_mul_pd(g2, _mm256_set1_pd(1.0 / 6)));
  const __m256d mid = _mm256_mul_pd(g1, _mm256_set1_pd(1.0 / 12));
  r[0] = _mm256_mul_pd(g0, _mm256_set1_pd(1.0 / 4));
  r[1] = _mm256_mul_pd(_mm256_add_pd(outer, g1), sixth);
  r[2] = _mm256_mul_pd(_mm256_sub_pd(outer, g1), sixth);
  r[3] = _mm256_add_pd(near, mid);
  r[4] = _mm256_sub_pd(near, mid);
  r[5] = g2;
}

// 4 x 4 transposes within each 128-bit half: afterwards lane l of r[j] holds element j of
// the old r[l] (likewise in the upper half).
void transpose_halves(__m256 r[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  r[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  r[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  r[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  r[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

// The tiles of one vector in F(4x4, 3x3): two quads of 4 tiles in a tile row, block columns
// col and col + 4 (col a multiple of 8). A quad past the block's tiles is absent.
struct QuadPair {
  bool present[2];
  std::int64_t ty[2], tx[2];  // its first tile
  QuadPair(std::int64_t col, std::int64_t ty0, std::int64_t rows, const Shape& s) {
    for (int h = 0; h < 2; ++h) {
      const std::int64_t c = col + 4 * h;
      present[h] = c < rows * s.FWp;
      ty[h] = ty0 + c / s.FWp;
      tx[h] = c % s.FWp;
    }
  }
};

// F(4x4, 3x3): v (36 planes of fwd_v_plane, each (C, cols)) = B^T d B for the tiles of tile
// rows [ty0, ty0 + rows) of every channel (column r * FWp + tx for tile (ty0 + r, tx)), from
// xw (C, 4 rows + 2, FXW): the padded image's rows from 4 ty0 on; other columns are zero.
void transform_input_4x4(float* v, std::int64_t cols, const float* xw, std::int64_t ty0,
                         std::int64_t rows, const Shape& s) {
  const std::int64_t xh = 4 * rows + 2;
  const std::int64_t used = rows * s.FWp, e_stride = s.fwd_v_plane;
  zero_unused(v, 36, e_stride, s.C, s.C, cols, round_up8(used));
  alignas(32) static constexpr float kZeros[20] = {};
  for (std::int64_t col = 0; col < used; col += 8) {
    const QuadPair quads(col, ty0, rows, s);
    for (std::int64_t c = 0; c < s.C; ++c) {
      const float* plane = xw + c * xh * s.FXW;
      __m256 t[6][6];  // row i of the patch, then d B (per row)
      for (int i = 0; i < 6; ++i) {
        const float* p[2];  // each quad's patch row i: columns 4 tx .. 4 tx + 19
        for (int h = 0; h < 2; ++h)
          p[h] = quads.present[h]
                     ? plane + (4 * (quads.ty[h] - ty0) + i) * s.FXW + 4 * quads.tx[h]
                     : kZeros;
        __m256 q[5];  // q[k]: columns 4 k .. 4 k + 3 of both quads
        for (int k = 0; k < 5; ++k)
          q[k] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p[0] + 4 * k)),
                                      _mm_loadu_ps(p[1] + 4 * k), 1);
        __m256 d[6], lo[4] = {q[0], q[1], q[2], q[3]}, hi[4] = {q[1], q[2], q[3], q[4]};
        transpose_halves(lo);  // lo[j]: column 4 l + j of tile l
        transpose_halves(hi);  // hi[j]: column 4 l + 4 + j
        d[0] = lo[0], d[1] = lo[1], d[2] = lo[2], d[3] = lo[3], d[4] = hi[0], d[5] = hi[1];
        input_1d(d, t[i]);
      }
      float* out = v + c * cols + col;
      for (int j = 0; j < 6; ++j) {
        const __m256 column[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
        __m256 r[6];
        input_1d(column, r);
        for (int i = 0; i < 6; ++i) _mm256_storeu_ps(out + (6 * i + j) * e_stride, r[i]);
      }
    }
  }
}

// F(4x4, 3x3): the outputs of the block's tiles (rows [ty0, ty0 + rows)) of every filter,
// y = A^T m A (+ b), m (36 planes of fwd_m_plane, each (Kp, cols)) the GEMM results.
void transform_output_4x4(float* y_n, const float* m, std::int64_t cols, const float* b,
                          std::int64_t ty0, std::int64_t rows, const Shape& s) {
  const std::int64_t used = rows * s.FWp, e_stride = s.fwd_m_plane;
  for (std::int64_t k = 0; k < s.K; ++k) {  // filter by filter: y is written in order
    for (std::int64_t col = 0; col < used; col += 8) {
      const QuadPair quads(col, ty0, rows, s);
      const float* in = m + k * cols + col;
      __m256 t[4][6];  // A^T m (per column j)
      for (int j = 0; j < 6; ++j) {
        __m256 column[6];
        for (int i = 0; i < 6; ++i) column[i] = _mm256_loadu_ps(in + (6 * i + j) * e_stride);
        __m256 o[4];
        output_1d(column, o);
        for (int a = 0; a < 4; ++a) t[a][j] = o[a];
      }
      const __m256 bias = _mm256_set1_ps(b != nullptr ? b[k] : 0.0f);
      for (int a = 0; a < 4; ++a) {  // output row a of every tile
        __m256 o[4];
        output_1d(t[a], o);
        for (int j = 0; j < 4; ++j) o[j] = _mm256_add_ps(o[j], bias);
        transpose_halves(o);  // o[l]: the 4 outputs of tile l (each quad in its half)
        for (int h = 0; h < 2; ++h) {
          const std::int64_t oy = 4 * quads.ty[h] + a, ox = 4 * quads.tx[h];
          if (!quads.present[h] || oy >= s.OH || ox >= s.OW) continue;
          float* out = y_n + (k * s.OH + oy) * s.OW + ox;
          __m128 tile[4];
          for (int l = 0; l < 4; ++l)
            tile[l] = h == 0 ? _mm256_castps256_ps128(o[l]) : _mm256_extractf128_ps(o[l], 1);
          const std::int64_t width = s.OW - ox;
          if (width >= 16) {
            for (int l = 0; l < 4; ++l) _mm_storeu_ps(out + 4 * l, tile[l]);
          } else {  // the row's last quad, partly past OW
            alignas(16) float row[16];
            for (int l = 0; l < 4; ++l) _mm_store_ps(row + 4 * l, tile[l]);
            for (std::int64_t i = 0; i < width; ++i) out[i] = row[i];
          }
        }
      }
    }
  }
}

// dt (16 planes of dw_dt_plane, each (cols, Kn)) = A h A^T for the tiles of the block's
// rows, h the 2 x 2 dout of each filter, from doutT (2 rows, 2 TWp, Kn): the block's
// dout, channels last (zero past the edges). Rows for tiles past the block's are zero.
void transform_dout(float* dt, std::int64_t cols, const float* dout_t, std::int64_t rows,
                    const Shape& s) {
  for (int e = 0; e < 16; ++e) {
    float* plane = dt + e * s.dw_dt_plane;
    std::fill(plane + rows * s.TWp * s.Kn, plane + cols * s.Kn, 0.0f);
  }
  const std::int64_t row_stride = 2 * s.TWp * s.Kn, e_stride = s.dw_dt_plane;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t tx = 0; tx < s.TWp; ++tx) {
      const float* h0 = dout_t + (2 * r * 2 * s.TWp + 2 * tx) * s.Kn;  // dout row 2 r
      const float* h1 = h0 + row_stride;                                // row 2 r + 1
      float* out = dt + (r * s.TWp + tx) * s.Kn;
      for (std::int64_t k = 0; k < s.Kn; k += 8) {
        const __m256 h00 = _mm256_loadu_ps(h0 + k), h01 = _mm256_loadu_ps(h0 + s.Kn + k);
        const __m256 h10 = _mm256_loadu_ps(h1 + k), h11 = _mm256_loadu_ps(h1 + s.Kn + k);
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

// doutT (2 rows, 2 TWp, Kn) = dout_n rows [2 ty0, 2 ty0 + 2 rows) channels last, zero past
// OH, OW and K. Whole 8 x 8 blocks by register transposes, the rest element by element.
void transpose_dout(float* dout_t, const float* dout_n, std::int64_t ty0, std::int64_t rows,
                    const Shape& s) {
  const std::int64_t XW2 = 2 * s.TWp;  // positions per dout row in dout_t
  const std::int64_t y_end = std::min(2 * rows, s.OH - 2 * ty0);
  if (y_end < 2 * rows || s.OW < XW2 || s.K < s.Kn)  // some entries are not written below
    std::fill(dout_t, dout_t + 2 * rows * XW2 * s.Kn, 0.0f);
  for (std::int64_t yy = 0; yy < y_end; ++yy) {
    const float* src = dout_n + (2 * ty0 + yy) * s.OW;  // + k * OH * OW + x
    float* dst = dout_t + yy * XW2 * s.Kn;           // + x * Kn + k
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
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (x + i) * s.Kn + k, cols[i]);
      }
      for (; x < s.OW; ++x)
        for (int i = 0; i < 8; ++i) dst[x * s.Kn + k + i] = src[(k + i) * plane + x];
    }
    for (; k < s.K; ++k)
      for (std::int64_t x = 0; x < s.OW; ++x) dst[x * s.Kn + k] = src[k * plane + x];
  }
}

// The routines of winograd::Kernels (contracts in conv/winograd.hpp).
void transform_filters_f32(float* u, const float* w, const Shape& s, std::int64_t panel) {
  const std::int64_t panels = s.panels;
  for (std::int64_t c0 = 0; c0 < s.C; c0 += 4) {
    const int lanes = static_cast<int>(std::min<std::int64_t>(4, s.C - c0));
    alignas(16) float t[36][MR][4];  // t[e][r][l]: position e of filter (6 panel + r, c0 + l)
    for (int r = 0; r < MR; ++r) {
      const std::int64_t k = panel * MR + r;
      alignas(32) double g[9][4] = {};  // g[tap][l]; zero past C and K
      if (k < s.K)
        for (int l = 0; l < lanes; ++l)
          for (int tap = 0; tap < 9; ++tap) g[tap][l] = w[(k * s.C + c0 + l) * 9 + tap];
      __m256d gg[6][3];  // G g: column j of the taps transformed down the rows
      for (int j = 0; j < 3; ++j) {
        __m256d col[6];
        filter_1d(_mm256_load_pd(g[j]), _mm256_load_pd(g[3 + j]), _mm256_load_pd(g[6 + j]), col);
        for (int a = 0; a < 6; ++a) gg[a][j] = col[a];
      }
      for (int a = 0; a < 6; ++a) {  // (G g) G^T: each row transformed along it
        __m256d row[6];
        filter_1d(gg[a][0], gg[a][1], gg[a][2], row);
        for (int b = 0; b < 6; ++b) _mm_store_ps(t[6 * a + b][r], _mm256_cvtpd_ps(row[b]));
      }
    }
    // u[e] panel rows: (channel c0 + l) x (6 filters), one MR-float row per channel
    for (int e = 0; e < 36; ++e) {
      float* dst = u + ((e * panels + panel) * s.C + c0) * MR;
      if (lanes < 4) {
        for (int l = 0; l < lanes; ++l)
          for (int r = 0; r < MR; ++r) dst[l * MR + r] = t[e][r][l];
        continue;
      }
      sse::store_transposed_6x4(dst, _mm_load_ps(t[e][0]), _mm_load_ps(t[e][1]),
                                _mm_load_ps(t[e][2]), _mm_load_ps(t[e][3]),
                                _mm_load_ps(t[e][4]), _mm_load_ps(t[e][5]));
    }
  }
}

void forward_f32(float* y_n, const float* x_n, const float* u, const float* b,
                      const Shape& s, std::int64_t block, float* scratch) {
  const auto kernel = micro_kernel();
  const std::int64_t cols = s.cols_fwd;
  const std::int64_t ty0 = block * s.rows_fwd, rows = std::min(s.rows_fwd, s.FH - ty0);
  const std::int64_t xh = 4 * rows + 2;  // padded image rows 4 ty0 .. 4 (ty0 + rows) + 1
  float* xw = scratch;
  float* v = xw + s.C * xh * s.FXW + kImageSlack;  // 36 planes (C, cols)
  float* m = v + 36 * s.fwd_v_plane;                // 36 planes (Kp, cols)
  pad_rows(xw, 4 * ty0, xh, s.FXW, x_n, s);
  transform_input_4x4(v, cols, xw, ty0, rows, s);
  // m[e] (Kp, cols) = u[e] (Kp, C) @ v[e] (C, cols), only the columns in use
  const std::int64_t used = round_up8(rows * s.FWp);
  for (int e = 0; e < 36; ++e) {
    const float* v_e = v + e * s.fwd_v_plane;
    float* m_e = m + e * s.fwd_m_plane;
    for (std::int64_t kp = 0; kp < s.Kp; kp += MR) {
      const float* u_panel = u + (e * s.Kp + kp) * s.C;
      for (std::int64_t col = 0; col < used; col += NR)
        kernel(s.C, 1.0f, u_panel, 1, MR, v_e + col, cols, 0.0f, m_e + kp * cols + col, cols, MR,
               static_cast<int>(std::min<std::int64_t>(NR, used - col)));
    }
  }
  transform_output_4x4(y_n, m, cols, b, ty0, rows, s);
}

void dw_f32(float* acc, const float* dout_n, const float* x_n, const Shape& s,
                 std::int64_t block0, std::int64_t block1, bool accumulate, float* scratch) {
  const auto kernel = micro_kernel();
  const std::int64_t cols = s.cols_dw;
  float* xw = scratch;
  float* v = xw + s.C * s.XH * s.XW + kImageSlack;  // 16 planes (Cp, cols)
  float* dt = v + 16 * s.dw_v_plane;     // 16 planes (cols, Kn)
  float* dout_t = dt + 16 * s.dw_dt_plane;  // (2 rows, 2 TWp, Kn)
  pad_rows(xw, 0, s.XH, s.XW, x_n, s);
  const std::int64_t first = block0 * s.rows_dw, end = std::min(s.TH, block1 * s.rows_dw);
  for (std::int64_t ty0 = first; ty0 < end; ty0 += s.rows_dw) {
    const std::int64_t rows = std::min(s.rows_dw, s.TH - ty0);
    transform_input_2x2(v, s.dw_v_plane, s.Cp, cols, xw, ty0, rows, s);
    transpose_dout(dout_t, dout_n, ty0, rows, s);
    transform_dout(dt, cols, dout_t, rows, s);
    // acc[e] (Cp, Kn) (+)= v[e] (Cp, cols) @ dt[e] (cols, Kn)
    const float beta = accumulate || ty0 > first ? 1.0f : 0.0f;
    for (int e = 0; e < 16; ++e) {
      const float* v_e = v + e * s.dw_v_plane;
      const float* dt_e = dt + e * s.dw_dt_plane;
      float* acc_e = acc + e * s.Cp * s.Kn;
      for (std::int64_t cp = 0; cp < s.Cp; cp += MR)
        for (std::int64_t kp = 0; kp < s.Kn; kp += NR)
          kernel(cols, 1.0f, v_e + cp * cols, cols, 1, dt_e + kp, s.Kn, beta,
                 acc_e + cp * s.Kn + kp, s.Kn, MR, NR);
    }
  }
}

void finish_dw_f32(float* dw, const float* accs, std::int64_t count, std::int64_t stride,
                        const Shape& s, std::int64_t k0) {
  const int lanes = static_cast<int>(std::min<std::int64_t>(8, s.K - k0));
  const __m256 half = _mm256_set1_ps(0.5f);
  // G^T (3 x 4) applied to (m0, m1, m2, m3): (m0 + h, (m1 - m2) / 2, h + m3), h = (m1 + m2) / 2
  const auto g_t = [half](__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256 r[3]) {
    const __m256 h = _mm256_mul_ps(_mm256_add_ps(m1, m2), half);
    r[0] = _mm256_add_ps(m0, h);
    r[1] = _mm256_mul_ps(_mm256_sub_ps(m1, m2), half);
    r[2] = _mm256_add_ps(h, m3);
  };
  for (std::int64_t c = 0; c < s.C; ++c) {
    __m256 m[16];  // m[e]: position e of filters (k0 + l, c); Kn pads K with zeros
    for (int e = 0; e < 16; ++e) {
      const float* a = accs + (e * s.Cp + c) * s.Kn + k0;
      m[e] = _mm256_loadu_ps(a);
      for (std::int64_t i = 1; i < count; ++i)
        m[e] = _mm256_add_ps(m[e], _mm256_loadu_ps(a + i * stride));
    }
    __m256 gm[3][4];  // G^T m: each column transformed
    for (int j = 0; j < 4; ++j) {
      __m256 col[3];
      g_t(m[j], m[4 + j], m[8 + j], m[12 + j], col);
      for (int a = 0; a < 3; ++a) gm[a][j] = col[a];
    }
    alignas(32) float out[9][8];  // (G^T m) G: each row transformed
    for (int a = 0; a < 3; ++a) {
      __m256 row[3];
      g_t(gm[a][0], gm[a][1], gm[a][2], gm[a][3], row);
      for (int b = 0; b < 3; ++b) _mm256_store_ps(out[3 * a + b], row[b]);
    }
    for (int l = 0; l < lanes; ++l)
      for (int tap = 0; tap < 9; ++tap) dw[((k0 + l) * s.C + c) * 9 + tap] = out[tap][l];
  }
}

}  // namespace

}  // namespace fastbp::winograd

namespace fastbp::avx2 {

const winograd::Kernels& winograd_part() {
  static const winograd::Kernels kernels{winograd::MR,           winograd::NR,
                                         8,                      &winograd::transform_filters_f32,
                                         &winograd::forward_f32, &winograd::dw_f32,
                                         &winograd::finish_dw_f32};
  return kernels;
}

}  // namespace fastbp::avx2
