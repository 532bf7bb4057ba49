#include "conv/conv2d.hpp"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "conv/pool.hpp"
#include "conv/winograd.hpp"
#include "conv/winograd_inputs.hpp"
#include "gemm/gemm.hpp"
#include "runtime/context.hpp"
#include "runtime/threads.hpp"
#include "tensor/tensor.hpp"

namespace fastbp {

namespace {

constexpr double kMinFlopsPerThread = 1 << 19;

// Threads for a loop over `units` independent pieces of work totalling `flops`: the
// team size when every thread gets enough work, else 1 (then the GEMMs may thread).
int outer_threads(std::int64_t units, std::int64_t min_units_per_thread, double flops) {
  const int nt = threads_for(flops, kMinFlopsPerThread);
  return units >= min_units_per_thread * nt ? nt : 1;
}

// A 1x1, stride-1, unpadded convolution: im2col_sample(x_n) is x_n itself.
bool is_pointwise(const ConvGeom& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;
}

// Elements of one zero-padded image (checked: throws std::length_error on overflow).
std::int64_t padded_numel(const ConvGeom& g) {
  return checked_numel({g.C, g.H + 2 * g.PH, g.W + 2 * g.PW}, 8);
}

// When the direct kernels (conv/kernels/conv_kernels.hpp) replace im2col + GEMM: they read
// one sample's image and dout once per tile of filters and taps, so both must stay in L2
// (kDirectMaxSampleFloats); and rows of fewer than kDirectMinWidth outputs leave their
// vectors half empty, unless the taps are so few that the GEMMs' short K is worse.
constexpr std::int64_t kDirectMaxSampleFloats = 64 * 1024;  // 256 KiB of float32
constexpr std::int64_t kDirectMinWidth = 16;
constexpr std::int64_t kDirectFewTaps = 32;

// True when T's convolution runs the direct kernels: float32 where the active context has
// them, stride 1 along rows, and the sizes above.
template <class T>
bool use_direct(const ConvGeom& g, std::int64_t OC) {
  std::int64_t sample_floats;  // OC * P + the padded image
  if (__builtin_mul_overflow(OC, g.P(), &sample_floats) ||
      __builtin_add_overflow(sample_floats, padded_numel(g), &sample_floats))
    return false;
  return std::is_same_v<T, float> && kernel_context().direct != nullptr && g.SW == 1 &&
         sample_floats <= kDirectMaxSampleFloats &&
         (g.OW >= kDirectMinWidth || g.CKK() <= kDirectFewTaps);
}

// A padded image plus the slack the direct kernels read past its last row.
std::int64_t direct_xp_numel(const ConvGeom& g) {
  return padded_numel(g) + conv_kernels::kDirectSlack;
}

// Pads x_n into xp (direct_xp_numel elements), the slack zeroed.
template <class T>
void pad_for_direct(T* xp, const T* x_n, const ConvGeom& g) {
  pad_sample(xp, x_n, g);
  std::fill(xp + g.padded_image(), xp + direct_xp_numel(g), T(0));
}

// For stride 1: dx_n is the stride-1 convolution of dout_n (OC, OH, OW), padded by
// (KH - 1 - PH, KW - 1 - PW), with the filters flipped and transposed (C, OC, KH, KW); its
// output is (C, H, W). PH or PW past KH - 1 or KW - 1 leaves a negative padding (unusable).
ConvGeom dx_geom(const ConvGeom& g, std::int64_t OC) {
  return ConvGeom{g.N, OC, g.OH, g.OW, g.KH, g.KW, 1, 1, g.KH - 1 - g.PH, g.KW - 1 - g.PW,
                  g.H, g.W};
}

// wt[c, oc, kh, kw] = w[oc, c, KH - 1 - kh, KW - 1 - kw].
template <class T>
void flip_filters(T* wt, const T* w, const ConvGeom& g, std::int64_t OC) {
  const std::int64_t KK = g.KH * g.KW;
  for (std::int64_t oc = 0; oc < OC; ++oc)
    for (std::int64_t c = 0; c < g.C; ++c)
      for (std::int64_t k = 0; k < KK; ++k)
        wt[(c * OC + oc) * KK + (KK - 1 - k)] = w[(oc * g.C + c) * KK + k];
}

// True when T's convolution runs by Winograd (conv/winograd.hpp): float32 only.
template <class T>
bool use_winograd(const ConvGeom& g, std::int64_t OC) {
  return std::is_same_v<T, float> && winograd::applies(g, OC);
}

// False when the convolution (g, OC) would run by Winograd but one of its inputs {data,
// count} is not finite or too large for it (conv/winograd_inputs.hpp): then the whole
// call sums directly, so NaN and Inf reach exactly the outputs they reach in NumPy.
template <class T>
bool winograd_inputs_ok(const ConvGeom& g, std::int64_t OC,
                        std::initializer_list<std::pair<const T*, std::int64_t>> inputs) {
  if constexpr (std::is_same_v<T, float>) {
    if (!winograd::applies(g, OC)) return true;
    for (const auto& [data, count] : inputs)
      if (!winograd::inputs_suitable(data, count)) return false;
  }
  return true;
}

// The forward of one sample at a time, by Winograd, the direct kernel or im2col + GEMM, in
// a scratch area of scratch_numel() elements per thread. Winograd splits a sample into
// blocks() independent blocks of output rows; the others have one block.
template <class T>
class SampleForward {
 public:
  // winograd_ok: false forbids Winograd (see winograd_inputs_ok).
  SampleForward(const T* w, const T* b, const ConvGeom& g, std::int64_t OC, bool winograd_ok)
      : w_(w), b_(b), g_(g), OC_(OC), winograd_(winograd_ok && use_winograd<T>(g, OC)),
        direct_(!winograd_ && use_direct<T>(g, OC)), pointwise_(is_pointwise(g)) {
    if (!winograd_) return;
    shape_ = winograd::make_shape(g, OC);
    u_ = Tensor({winograd::filters_numel(shape_)}, dtype_of<float>());
    float* u = u_.data_as<float>();
    const float* wf = reinterpret_cast<const float*>(w);
    // ~250 double operations per filter (k, c), Kp / panels filters a panel
    const std::int64_t panels = shape_.panels;
    const int nt = threads_for(250.0 * double(shape_.Kp) * double(g.C), kMinFlopsPerThread);
    const auto transform = kernel_context().winograd->transform_filters;
    parallel_for(nt, 0, panels, [u, wf, shape = shape_, transform](std::int64_t panel) {
      transform(u, wf, shape, panel);
    });
  }

  std::int64_t scratch_numel() const {
    if (winograd_) return winograd::forward_scratch_numel(shape_);
    if (direct_) return direct_xp_numel(g_);
    return pointwise_ ? 0 : g_.CKK() * g_.P() + padded_numel(g_);  // col, padded image
  }

  std::int64_t blocks() const { return winograd_ ? shape_.blocks_fwd : 1; }

  // Threads over `pieces` pieces of the batch (samples or blocks, each running
  // single-threaded kernels), or 1: then the GEMMs thread themselves.
  int threads(std::int64_t pieces) const {
    return outer_threads(pieces, 2, 2.0 * g_.N * OC_ * g_.CKK() * g_.P());
  }

  // y_n (OC, P) = the convolution of the sample x_n (C, H, W): all of its blocks.
  void run(T* y_n, const T* x_n, T* scratch) const {
    for (std::int64_t block = 0; block < blocks(); ++block) run(y_n, x_n, block, scratch);
  }

  // The block `block` of y_n.
  void run(T* y_n, const T* x_n, std::int64_t block, T* scratch) const {
    const std::int64_t P = g_.P(), CKK = g_.CKK();
    if constexpr (std::is_same_v<T, float>) {
      if (winograd_) {
        kernel_context().winograd->forward(y_n, x_n, u_.data_as<float>(), b_, shape_, block,
                                            scratch);
        return;
      }
      if (direct_) {
        pad_for_direct(scratch, x_n, g_);
        kernel_context().direct->forward_f32(y_n, scratch, w_, b_, g_, OC_);
        return;
      }
    }
    if (!pointwise_) im2col_sample(scratch, x_n, scratch + CKK * P, g_);
    if (b_ != nullptr) {
      for (std::int64_t oc = 0; oc < OC_; ++oc) std::fill(y_n + oc * P, y_n + (oc + 1) * P, b_[oc]);
    }
    gemm<T>(false, false, OC_, P, CKK, T(1), w_, CKK, pointwise_ ? x_n : scratch, P,
            b_ != nullptr ? T(1) : T(0), y_n, P);
  }

 private:
  const T* w_;
  const T* b_;
  ConvGeom g_;
  std::int64_t OC_;
  bool winograd_, direct_, pointwise_;
  winograd::Shape shape_{};
  Tensor u_{{0}, dtype_of<float>()};  // Winograd's transformed filters
};

// Sum of row[0:n] in a fixed order that vectorises: 16 interleaved partial sums (lane j
// takes row[j], row[j + 16], ...), then the lanes pairwise. A plain running sum would be
// one long chain of dependent adds, four cycles each.
template <class T>
T row_sum(const T* row, std::int64_t n) {
  constexpr int kLanes = 16;
  T lane[kLanes] = {};
  std::int64_t p = 0;
  for (; p + kLanes <= n; p += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += row[p + j];
  for (int j = 0; p + j < n; ++j) lane[j] += row[p + j];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int j = 0; j < width; ++j) lane[j] += lane[j + width];
  return lane[0];
}

// Samples per dw/db chunk: a function of N only, never of the thread count.
std::int64_t chunk_size(std::int64_t N) {
  constexpr std::int64_t kMinChunk = 4, kMaxChunks = 32;
  return std::max(kMinChunk, (N + kMaxChunks - 1) / kMaxChunks);
}

// Winograd's dw of a batch of few chunks also splits each sample's blocks into `parts`
// ranges, each summed apart, so that there are at least kMinPieces pieces: a function of
// the shape only, never of the thread count.
std::int64_t dw_row_parts(std::int64_t chunks, std::int64_t blocks) {
  constexpr std::int64_t kMinPieces = 4;
  return std::clamp<std::int64_t>((kMinPieces + chunks - 1) / std::max<std::int64_t>(chunks, 1),
                                  1, blocks);
}

// --- the backward's algorithms, one interface each ----------------------------------------
// The weight gradient of one algorithm. Plan: the constructor. The batch is cut into
// pieces (a chunk of samples, times parts() ranges of each sample's work); each piece sums
// its samples' dw into a partial of partial_numel() elements, using scratch_numel()
// elements of its thread's scratch; finish() turns the partials, summed in piece order,
// into dw.
template <class T>
class DwAlgorithm {
 public:
  virtual ~DwAlgorithm() = default;
  virtual std::int64_t parts(std::int64_t /*chunks*/) const { return 1; }
  virtual std::int64_t partial_numel() const = 0;
  virtual std::int64_t scratch_numel() const = 0;
  // True when finish() must run even for a single piece (a transformed partial).
  virtual bool transformed() const { return false; }
  // pdw (+)= (accumulate) the dw of sample x_n, dout_n (OC, P): part r of parts.
  virtual void sample(T* pdw, const T* dout_n, const T* x_n, std::int64_t r,
                      std::int64_t parts, bool accumulate, T* scratch) const = 0;
  // dw (OC, CKK) = the sum, in piece order, of `pieces` partials at sums + q * stride.
  virtual void finish(T* dw, const T* sums, std::int64_t pieces, std::int64_t stride) const {
    const std::int64_t n = partial_numel();
    const int rt = threads_for(static_cast<double>(pieces) * n, 1 << 16);
    parallel_for(rt, 0, n, [=](std::int64_t i) {
      T s = sums[i];
      for (std::int64_t q = 1; q < pieces; ++q) s += sums[q * stride + i];
      dw[i] = s;
    });
  }
};

// dw (OC, CKK) (+)= dout_n (OC, P) @ col_n^T (P, CKK), col_n = im2col(x_n) (x_n itself for a
// pointwise convolution).
template <class T>
class DwByGemm final : public DwAlgorithm<T> {
 public:
  DwByGemm(const ConvGeom& g, std::int64_t OC) : g_(g), OC_(OC), pointwise_(is_pointwise(g)) {}
  std::int64_t partial_numel() const override { return OC_ * g_.CKK(); }
  std::int64_t scratch_numel() const override {  // col (CKK, P), a padded image
    return pointwise_ ? 0 : g_.CKK() * g_.P() + direct_xp_numel(g_);
  }
  void sample(T* pdw, const T* dout_n, const T* x_n, std::int64_t, std::int64_t,
              bool accumulate, T* scratch) const override {
    const std::int64_t P = g_.P(), CKK = g_.CKK();
    if (!pointwise_) im2col_sample(scratch, x_n, scratch + CKK * P, g_);
    gemm<T>(false, true, OC_, CKK, P, T(1), dout_n, P, pointwise_ ? x_n : scratch, P,
            accumulate ? T(1) : T(0), pdw, CKK);
  }

 private:
  ConvGeom g_;
  std::int64_t OC_;
  bool pointwise_;
};

// The same product by the context's direct kernel (float32), from the padded image.
class DwDirect final : public DwAlgorithm<float> {
 public:
  DwDirect(const ConvGeom& g, std::int64_t OC) : g_(g), OC_(OC) {}
  std::int64_t partial_numel() const override { return OC_ * g_.CKK(); }
  std::int64_t scratch_numel() const override { return direct_xp_numel(g_); }
  void sample(float* pdw, const float* dout_n, const float* x_n, std::int64_t, std::int64_t,
              bool accumulate, float* scratch) const override {
    pad_for_direct(scratch, x_n, g_);
    kernel_context().direct->dw_f32(pdw, dout_n, scratch, g_, OC_, accumulate);
  }

 private:
  ConvGeom g_;
  std::int64_t OC_;
};

// Winograd F(2x2, 3x3) (float32): partials are transformed accumulators, each piece a
// range of a sample's blocks of tile rows; finish() sums them while transforming back.
class DwWinograd final : public DwAlgorithm<float> {
 public:
  DwWinograd(const ConvGeom& g, std::int64_t OC)
      : g_(g), OC_(OC), shape_(winograd::make_shape(g, OC)) {}
  std::int64_t parts(std::int64_t chunks) const override {
    return dw_row_parts(chunks, shape_.blocks_dw);
  }
  std::int64_t partial_numel() const override { return winograd::dw_acc_numel(shape_); }
  std::int64_t scratch_numel() const override { return winograd::dw_scratch_numel(shape_); }
  bool transformed() const override { return true; }
  void sample(float* pdw, const float* dout_n, const float* x_n, std::int64_t r,
              std::int64_t parts, bool accumulate, float* scratch) const override {
    const std::int64_t blocks = shape_.blocks_dw;
    kernel_context().winograd->dw(pdw, dout_n, x_n, shape_, blocks * r / parts,
                                  blocks * (r + 1) / parts, accumulate, scratch);
  }
  void finish(float* dw, const float* sums, std::int64_t pieces,
              std::int64_t stride) const override {
    const std::int64_t lanes = kernel_context().winograd->lanes;  // filters a piece
    const std::int64_t groups = (OC_ + lanes - 1) / lanes;
    // Work per filter (k, c): 16 loads and adds per piece, then the transform; weighted
    // as 40 per piece plus 120, since the loads stride across the accumulators.
    const int ft = threads_for(40.0 * double(pieces + 3) * double(OC_) * double(g_.C),
                               kMinFlopsPerThread);
    const auto finish_dw = kernel_context().winograd->finish_dw;
    const winograd::Shape shape = shape_;
    parallel_for(ft, 0, groups, [=](std::int64_t grp) {
      finish_dw(dw, sums, pieces, stride, shape, lanes * grp);
    });
  }

 private:
  ConvGeom g_;
  std::int64_t OC_;
  winograd::Shape shape_;
};

// winograd_ok: false forbids Winograd (see winograd_inputs_ok).
template <class T>
std::unique_ptr<DwAlgorithm<T>> plan_dw(const ConvGeom& g, std::int64_t OC, bool winograd_ok) {
  if constexpr (std::is_same_v<T, float>) {
    if (winograd_ok && use_winograd<T>(g, OC)) return std::make_unique<DwWinograd>(g, OC);
    if (use_direct<T>(g, OC)) return std::make_unique<DwDirect>(g, OC);
  }
  return std::make_unique<DwByGemm<T>>(g, OC);
}

// The input gradient of one algorithm: plan (the constructor), scratch_numel() elements
// of scratch per thread, blocks() independent blocks per sample, and the work of one.
// For stride 1, dx is the convolution of dout with the flipped, transposed filters (see
// dx_geom), by Winograd or the direct kernel (a SampleForward); otherwise, and where neither
// applies, dx_n = col2im(w^T (CKK, OC) @ dout_n (OC, P)).
template <class T>
class DxBackward {
 public:
  // winograd_ok: false forbids Winograd (see winograd_inputs_ok).
  DxBackward(const T* w, const ConvGeom& g, std::int64_t OC, bool winograd_ok)
      : w_(w), g_(g), OC_(OC), pointwise_(is_pointwise(g)) {
    const ConvGeom gt = dx_geom(g, OC);
    const bool by_forward =
        g.SH == 1 && g.SW == 1 && gt.PH >= 0 && gt.PW >= 0 &&
        ((winograd_ok && use_winograd<T>(gt, g.C)) ||
         (use_direct<T>(g, OC) && use_direct<T>(gt, g.C)));
    if (!by_forward) return;
    flipped_ = Tensor({g.C * OC * g.KH * g.KW}, dtype_of<T>());
    flip_filters(flipped_.data_as<T>(), w, g, OC);
    forward_.emplace(flipped_.data_as<T>(), nullptr, gt, g.C, winograd_ok);
  }

  bool by_forward() const { return forward_.has_value(); }
  std::int64_t scratch_numel() const {
    if (forward_) return forward_->scratch_numel();
    return pointwise_ ? 0 : g_.CKK() * g_.P() + direct_xp_numel(g_);  // dcol, a padded image
  }
  std::int64_t blocks() const { return forward_ ? forward_->blocks() : 1; }
  // Threads over `pieces` blocks of the batch (by a forward), or 1.
  int threads(std::int64_t pieces) const { return forward_ ? forward_->threads(pieces) : 1; }

  // Block `block` of dx_n (C, H, W) from dout_n (OC, P).
  void run(T* dx_n, const T* dout_n, std::int64_t block, T* scratch) const {
    if (forward_) return forward_->run(dx_n, dout_n, block, scratch);
    const std::int64_t P = g_.P(), CKK = g_.CKK();
    gemm<T>(true, false, CKK, P, OC_, T(1), w_, CKK, dout_n, P, T(0), pointwise_ ? dx_n : scratch,
            P);
    if (!pointwise_) col2im_sample(dx_n, scratch, scratch + CKK * P, g_);
  }
  // All of dx_n.
  void run(T* dx_n, const T* dout_n, T* scratch) const {
    for (std::int64_t block = 0; block < blocks(); ++block) run(dx_n, dout_n, block, scratch);
  }

 private:
  const T* w_;
  ConvGeom g_;
  std::int64_t OC_;
  bool pointwise_;
  Tensor flipped_{{0}, dtype_of<T>()};
  std::optional<SampleForward<T>> forward_;
};

// conv2d_backward, with dout_n (OC, P) of sample n given by
// dout_of(n, scratch) -> const T* (scratch: dout_scratch elements of the calling thread's).
// dout_of returns null to stop: the remaining work is skipped and the result is false
// (dx, dw, db unspecified); true when every sample ran.
//
// The driver: pieces of work (chunk ch of samples, part r of the dw algorithm's parts) at
// ch * parts + r, dealt out to the threads; part 0 also computes db and dx. Partials of dw
// and db per piece (none when one piece writes dw and db), summed in piece order.
template <class T, class DoutOf>
bool conv_backward(T* dx, T* dw, T* db, const DoutOf& dout_of, std::int64_t dout_scratch,
                   const T* x, const T* w, const ConvGeom& g, std::int64_t OC,
                   bool winograd_ok) {
  const std::int64_t P = g.P(), CKK = g.CKK(), N = g.N;
  const std::unique_ptr<DwAlgorithm<T>> dw_alg = plan_dw<T>(g, OC, winograd_ok);
  std::optional<DxBackward<T>> dx_alg;
  if (dx != nullptr) dx_alg.emplace(w, g, OC, winograd_ok);
  const std::int64_t chunk = chunk_size(N);
  const std::int64_t chunks = (N + chunk - 1) / chunk;
  const std::int64_t parts = dw_alg->parts(chunks);
  const std::int64_t pieces = chunks * parts;
  const int nt = outer_threads(pieces, 1, (dx != nullptr ? 6.0 : 4.0) * N * OC * CKK * P);
  // With one thread for the chunks (a small batch), dx by a forward runs after them in
  // pieces of its own (samples or Winograd blocks) when those can use more threads: the
  // same arithmetic.
  const std::int64_t dx_pieces = dx_alg && dx_alg->by_forward() ? N * dx_alg->blocks() : 0;
  const int dx_nt = dx_pieces > 0 ? dx_alg->threads(dx_pieces) : 1;
  const bool dx_apart = nt == 1 && dx_nt > 1;

  // Per thread: the dw algorithm's scratch, dx's (unless apart) and dout_of's.
  const std::int64_t dw_numel = dw_alg->scratch_numel();
  const std::int64_t dx_numel = dx_alg && !dx_apart ? dx_alg->scratch_numel() : 0;
  const std::int64_t per_thread = dw_numel + dx_numel + dout_scratch;
  Tensor workspace({nt, per_thread}, dtype_of<T>());
  const std::int64_t dw_part = dw_alg->partial_numel();
  const std::int64_t part = dw_part + OC;
  const bool partial = pieces > 1 || dw_alg->transformed();
  Tensor partials({partial ? pieces : 0, part}, dtype_of<T>());

  int stopped = 0;  // set (to 1 only) by any thread whose dout_of returned null
  parallel_region(nt, [&](int t, int /*nth*/) {
    T* dw_scratch = workspace.data_as<T>() + t * per_thread;
    T* dx_scratch = dw_scratch + dw_numel;
    T* scratch = dx_scratch + dx_numel;
#pragma omp for schedule(dynamic)
    for (std::int64_t piece = 0; piece < pieces; ++piece) {
      int stop;
#pragma omp atomic read
      stop = stopped;
      if (stop) continue;
      const std::int64_t ch = piece / parts, r = piece % parts;
      T* pdw = partial ? partials.data_as<T>() + piece * part : dw;
      T* pdb = partial ? pdw + dw_part : db;
      const std::int64_t n0 = ch * chunk, n1 = std::min(N, n0 + chunk);
      for (std::int64_t n = n0; n < n1; ++n) {
        const T* x_n = x + n * g.image();
        const T* dout_n = dout_of(n, scratch);
        if (dout_n == nullptr) {
#pragma omp atomic write
          stopped = 1;
          break;
        }
        const bool first = n == n0;
        // db (+)= row sums of dout_n (a fixed order: see row_sum); first, since this reads
        // dout_n in order, which brings it into cache fastest
        if (r == 0) {
          for (std::int64_t oc = 0; oc < OC; ++oc) {
            const T s = row_sum(dout_n + oc * P, P);
            pdb[oc] = first ? s : pdb[oc] + s;
          }
        }
        dw_alg->sample(pdw, dout_n, x_n, r, parts, !first, dw_scratch);
        if (dx_alg && r == 0 && !dx_apart) dx_alg->run(dx + n * g.image(), dout_n, dx_scratch);
      }
    }
  });

  if (dx_apart && !stopped) {
    const std::int64_t dx_per_thread = dx_alg->scratch_numel() + dout_scratch;
    Tensor dx_workspace({dx_nt, dx_per_thread}, dtype_of<T>());
    const std::int64_t blocks = dx_alg->blocks();
    parallel_region(dx_nt, [&](int t, int /*nth*/) {
      T* dxs = dx_workspace.data_as<T>() + t * dx_per_thread;
      T* scratch = dxs + dx_alg->scratch_numel();
#pragma omp for schedule(dynamic)
      for (std::int64_t piece = 0; piece < dx_pieces; ++piece) {
        const std::int64_t n = piece / blocks;
        const T* dout_n = dout_of(n, scratch);  // valid: the chunks read every sample
        dx_alg->run(dx + n * g.image(), dout_n, piece % blocks, dxs);
      }
    });
  }
  if (stopped) return false;
  if (chunks == 0) {  // empty batch
    std::fill(dw, dw + OC * CKK, T(0));
    std::fill(db, db + OC, T(0));
    return true;
  }
  if (!partial) return true;
  // The ordered reduction: db over part 0 of each chunk, dw by the algorithm's finish.
  const T* sums = partials.data_as<T>();
  for (std::int64_t oc = 0; oc < OC; ++oc) {
    T s = sums[dw_part + oc];
    for (std::int64_t ch = 1; ch < chunks; ++ch) s += sums[ch * parts * part + dw_part + oc];
    db[oc] = s;
  }
  dw_alg->finish(dw, sums, pieces, part);
  return true;
}

}  // namespace

template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, const ConvGeom& g,
                    std::int64_t OC) {
  const SampleForward<T> forward(
      w, b, g, OC, winograd_inputs_ok<T>(g, OC, {{x, g.N * g.image()}, {w, OC * g.CKK()}}));
  const int nt = forward.threads(g.N * forward.blocks());
  const std::int64_t scratch = forward.scratch_numel();
  Tensor workspace({nt, scratch}, dtype_of<T>());
  const std::int64_t blocks = forward.blocks();
  parallel_region(nt, [&](int t, int /*nth*/) {
#pragma omp for schedule(dynamic)
    for (std::int64_t piece = 0; piece < g.N * blocks; ++piece) {
      const std::int64_t n = piece / blocks;
      forward.run(y + n * OC * g.P(), x + n * g.image(), piece % blocks,
                  workspace.data_as<T>() + t * scratch);
    }
  });
}

template <class T>
void conv2d_relu_max_pool2d_forward(T* y, std::int64_t* argmax, const T* x, const T* w,
                                    const T* b, const ConvGeom& g, std::int64_t OC,
                                    const ConvGeom& pg) {
  const SampleForward<T> forward(
      w, b, g, OC, winograd_inputs_ok<T>(g, OC, {{x, g.N * g.image()}, {w, OC * g.CKK()}}));
  const int nt = forward.threads(g.N);
  const std::int64_t P = g.P(), PP = pg.P(), scratch = forward.scratch_numel();
  const std::int64_t per_thread = OC * P + scratch;  // the sample's conv output, scratch
  Tensor workspace({nt, per_thread}, dtype_of<T>());
  parallel_region(nt, [&](int t, int /*nth*/) {
    T* c_n = workspace.data_as<T>() + t * per_thread;
#pragma omp for schedule(dynamic)
    for (std::int64_t n = 0; n < g.N; ++n) {
      forward.run(c_n, x + n * g.image(), c_n + OC * P);
      max_pool2d_planes<T>(y + n * OC * PP, argmax + n * OC * PP, c_n, OC, n * OC * P, pg,
                           true);
    }
  });
}

template <class T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w,
                     const ConvGeom& g, std::int64_t OC) {
  const std::int64_t sample = OC * g.P();
  const bool winograd_ok = winograd_inputs_ok<T>(
      g, OC, {{dout, g.N * sample}, {x, g.N * g.image()}, {w, OC * g.CKK()}});
  conv_backward(dx, dw, db, [=](std::int64_t n, T*) { return dout + n * sample; }, 0, x, w, g,
                OC, winograd_ok);
}

template <class T>
std::int64_t conv2d_relu_max_pool2d_backward(T* dx, T* dw, T* db, const T* dout,
                                             const std::int64_t* argmax, const T* y,
                                             const T* x, const T* w, const ConvGeom& g,
                                             std::int64_t OC, const PoolShape& ps) {
  // Each sample's gradient at the convolution's output, unpooled into the thread's scratch
  // (in cache) just before the convolution's backward reads it.
  const std::int64_t sample = OC * g.P(), pooled = OC * ps.OH * ps.OW;
  const auto unpool = [=](std::int64_t n, T* scratch) -> const T* {
    const bool local = max_pool2d_backward_planes(scratch, dout + n * pooled, argmax + n * pooled,
                                                  y + n * pooled, OC, n * sample, ps);
    return local ? scratch : nullptr;
  };
  // The unpooled gradient holds dout's values and zeros: scanning dout checks it.
  const bool winograd_ok = winograd_inputs_ok<T>(
      g, OC, {{dout, g.N * pooled}, {x, g.N * g.image()}, {w, OC * g.CKK()}});
  if (conv_backward(dx, dw, db, unpool, sample, x, w, g, OC, winograd_ok)) return -1;
  // Some index left its plane: the whole gradient at the output first, then the backward.
  Tensor d_conv({g.N * sample}, dtype_of<T>());
  const std::int64_t bad = max_pool2d_backward(d_conv.data_as<T>(), dout, argmax, ps, y);
  if (bad >= 0) return bad;
  conv2d_backward(dx, dw, db, d_conv.data_as<T>(), x, w, g, OC);
  return -1;
}

#define FASTBP_INSTANTIATE(T)                                                                 \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const ConvGeom&,          \
                                  std::int64_t);                                              \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const ConvGeom&, \
                                   std::int64_t);                                             \
  template void conv2d_relu_max_pool2d_forward<T>(T*, std::int64_t*, const T*, const T*,      \
                                                  const T*, const ConvGeom&, std::int64_t,    \
                                                  const ConvGeom&);                           \
  template std::int64_t conv2d_relu_max_pool2d_backward<T>(                                    \
      T*, T*, T*, const T*, const std::int64_t*, const T*, const T*, const T*,                \
      const ConvGeom&, std::int64_t, const PoolShape&);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
