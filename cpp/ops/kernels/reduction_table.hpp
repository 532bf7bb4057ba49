// The reduction part of a kernel context (runtime/context.hpp): one ISA's column sums
// (ops/kernels/reduction_loops.hpp compiled by ops/kernels/<isa>/). Plain declarations only.
#pragma once

#include <cstdint>

namespace fastbp {

// db (M) := (accumulate ? db : 0) + the sum over rows of dout (N, M), each column summed in
// row order (so the result does not depend on the ISA's vector width or the thread count).
template <class T>
using ColumnSums = void (*)(T* db, const T* dout, std::int64_t N, std::int64_t M,
                            bool accumulate);

struct ReductionTables {
  ColumnSums<float> column_sums_f32;
  ColumnSums<double> column_sums_f64;
};

}  // namespace fastbp
