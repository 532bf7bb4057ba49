// The column sums of a linear layer's bias gradient, compiled once per instruction set by a
// unit under ops/kernels/<isa>/ with that ISA's flags, in its own inline namespace
// (runtime/isa_tag.hpp); ops/linear.cpp calls the table of the active context.
// Contract: ops/kernels/reduction_table.hpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops/kernels/reduction_table.hpp"
#include "runtime/isa_tag.hpp"
#include "runtime/threads.hpp"

namespace fastbp::reduction_loops {
inline namespace FASTBP_ISA_TAG {

// Columns summed together (128 bytes: eight SSE, four AVX or two AVX-512 registers): their
// partial sums stay in registers across the rows.
template <class T>
inline constexpr std::int64_t kColumns = 128 / sizeof(T);

// Columns [j0, j0 + W) (W a compile-time width, so the sums stay in registers).
template <class T, std::int64_t W>
void column_block(T* db, const T* dout, std::int64_t N, std::int64_t M, std::int64_t j0,
                  bool accumulate) {
  T acc[W];
  for (std::int64_t c = 0; c < W; ++c) acc[c] = accumulate ? db[j0 + c] : T(0);
  for (std::int64_t i = 0; i < N; ++i) {
    const T* row = dout + i * M + j0;
    for (std::int64_t c = 0; c < W; ++c) acc[c] += row[c];
  }
  std::copy(acc, acc + W, db + j0);
}

// The last M % kColumns columns: blocks of a quarter of kColumns, then one of the last few,
// each of a compile-time width.
template <class T>
void column_tail(T* db, const T* dout, std::int64_t N, std::int64_t M, std::int64_t j0,
                 bool accumulate) {
  constexpr std::int64_t kStep = kColumns<T> / 4;  // 8 floats or 4 doubles
  static_assert(kStep <= 8);
  std::int64_t j = j0;
  for (; j + kStep <= M; j += kStep) column_block<T, kStep>(db, dout, N, M, j, accumulate);
  switch (M - j) {
    case 0: return;
    case 1: return column_block<T, 1>(db, dout, N, M, j, accumulate);
    case 2: return column_block<T, 2>(db, dout, N, M, j, accumulate);
    case 3: return column_block<T, 3>(db, dout, N, M, j, accumulate);
    case 4: return column_block<T, 4>(db, dout, N, M, j, accumulate);
    case 5: return column_block<T, 5>(db, dout, N, M, j, accumulate);
    case 6: return column_block<T, 6>(db, dout, N, M, j, accumulate);
    default: return column_block<T, 7>(db, dout, N, M, j, accumulate);
  }
}

// Blocks of kColumns columns are independent: threads take whole blocks.
template <class T>
void column_sums(T* db, const T* dout, std::int64_t N, std::int64_t M, bool accumulate) {
  constexpr std::int64_t W = kColumns<T>;
  const std::int64_t blocks = (M + W - 1) / W;
  const int nt = threads_for(static_cast<double>(N) * static_cast<double>(M), 1 << 16);
  parallel_for(nt, 0, blocks, [&](std::int64_t b) {
    if ((b + 1) * W <= M) return column_block<T, W>(db, dout, N, M, b * W, accumulate);
    column_tail(db, dout, N, M, b * W, accumulate);
  });
}

inline const ReductionTables& tables() {
  static const ReductionTables t{&column_sums<float>, &column_sums<double>};
  return t;
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::reduction_loops
