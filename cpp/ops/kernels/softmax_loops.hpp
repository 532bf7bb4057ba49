// The fused softmax + cross-entropy loops, compiled once per instruction set by a unit under
// ops/kernels/<isa>/ with that ISA's flags (the exponentials vectorise to the ISA's width),
// each compilation in its own inline namespace (runtime/isa_tag.hpp), handing out its table
// for its ISA's kernel context. Contract: ops/softmax_xent.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/kernels/softmax_table.hpp"
#include "ops/vexp.hpp"
#include "runtime/isa_tag.hpp"
#include "runtime/threads.hpp"

namespace fastbp {

namespace softmax_loops {
inline namespace FASTBP_ISA_TAG {

// Rows per block of the loss sum. A row's loss is log(sum_j exp(s_j - max)) - (s_y - max),
// and each such sum lies in [1, C] (its largest term is exp(0) = 1), so a block whose
// product of sums stays below 2^1000 takes one log of that product instead of one per row.
inline std::int64_t rows_per_block(std::int64_t C) {
  const double bits_per_row = std::log2(static_cast<double>(C));
  if (bits_per_row <= 0) return 512;
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(1000.0 / bits_per_row), 1, 512);
}

template <class T>
T softmax_cross_entropy(T* dscores, const T* scores, const std::int64_t* labels, std::int64_t N,
                        std::int64_t C) {
  const std::int64_t block = rows_per_block(C);
  const std::int64_t blocks = (N + block - 1) / block;
  std::vector<double> block_loss(static_cast<std::size_t>(blocks));
  double* const loss_out = block_loss.data();
  const T inv_n = T(1) / static_cast<T>(N);
  const int nt = threads_for(static_cast<double>(N) * static_cast<double>(C), 1 << 15);
  // By value: the captured scalars cannot alias dscores, so they stay in registers.
  parallel_for(nt, 0, blocks, [=](std::int64_t blk) {
    double sum_product = 1.0, label_logits = 0.0;
    const std::int64_t i0 = blk * block, i1 = std::min(N, i0 + block);
    // Three passes over the block's rows, so that the exponentials run in one
    // contiguous (vectorised) loop: d = s - row max; d = exp(d); d = d / row sum / N.
    for (std::int64_t i = i0; i < i1; ++i) {
      const T* s = scores + i * C;  // (C,)
      T* d = dscores + i * C;       // (C,)
      T max = s[0];
      for (std::int64_t j = 1; j < C; ++j) max = s[j] > max ? s[j] : max;
      label_logits += static_cast<double>(s[labels[i]] - max);  // read before d overwrites s
      for (std::int64_t j = 0; j < C; ++j) d[j] = s[j] - max;
    }
    T* d_block = dscores + i0 * C;
    for (std::int64_t k = 0; k < (i1 - i0) * C; ++k) d_block[k] = detail::vexp(d_block[k]);
    for (std::int64_t i = i0; i < i1; ++i) {
      T* d = dscores + i * C;  // (C,)
      T sum = 0;
      for (std::int64_t j = 0; j < C; ++j) sum += d[j];
      sum_product *= static_cast<double>(sum);
      const T scale = inv_n / sum;
      for (std::int64_t j = 0; j < C; ++j) d[j] *= scale;
      d[labels[i]] -= inv_n;
    }
    loss_out[blk] = std::log(sum_product) - label_logits;
  });
  double total = 0;
  for (double b : block_loss) total += b;
  return static_cast<T>(total / static_cast<double>(N));
}

// This compilation's table (its kernels/<isa>/ unit hands it to the context).
inline const SoftmaxTables& tables() {
  static const SoftmaxTables instance{&softmax_cross_entropy<float>,
                                      &softmax_cross_entropy<double>};
  return instance;
}

}  // namespace FASTBP_ISA_TAG
}  // namespace softmax_loops
}  // namespace fastbp
