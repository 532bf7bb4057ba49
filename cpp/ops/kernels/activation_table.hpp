// The activation part of a kernel context (runtime/context.hpp): one ISA's element-wise
// activation functions (ops/kernels/activation_loops.hpp compiled by ops/kernels/<isa>/).
// Legend and aliasing rules: ops/activations.hpp. Plain declarations only.
#pragma once

#include <cstdint>

namespace fastbp {

// One ISA's activation functions for one precision.
template <class T>
struct ActivationTable {
  void (*relu_forward)(T*, const T*, std::int64_t);
  void (*relu_backward)(T*, const T*, const T*, std::int64_t);
  void (*leaky_relu_forward)(T*, const T*, T, std::int64_t);
  void (*leaky_relu_backward)(T*, const T*, const T*, T, std::int64_t);
  void (*sigmoid_forward)(T*, const T*, std::int64_t);
  void (*sigmoid_backward)(T*, const T*, const T*, std::int64_t);
  void (*tanh_forward)(T*, const T*, std::int64_t);
  void (*tanh_backward)(T*, const T*, const T*, std::int64_t);
};

struct ActivationTables {
  ActivationTable<float> f32;
  ActivationTable<double> f64;
};

}  // namespace fastbp
