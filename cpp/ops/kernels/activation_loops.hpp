// The element-wise activation loops, compiled once per instruction set by a unit under
// ops/kernels/<isa>/ with that ISA's flags (the same loops run about 3x faster with 256-bit
// vectors than with the baseline's). Each compilation lives in its own inline namespace
// (runtime/isa_tag.hpp) and hands out a table of its functions for its ISA's kernel
// context; ops/activations.cpp calls the table of the active context.
// Legend and aliasing rules: ops/activations.hpp.
#pragma once

#include <cstdint>

#include "ops/kernels/activation_table.hpp"
#include "ops/vexp.hpp"
#include "runtime/isa_tag.hpp"
#include "runtime/threads.hpp"

namespace fastbp {

namespace activation_loops {
inline namespace FASTBP_ISA_TAG {

// Elements per thread below which a second thread costs more than it saves.
constexpr double kMinElemsPerThread = 1 << 16;

// out[i] = f(i) over n elements, on as many threads as the size is worth.
// Each element is computed alone, so the result is the same for any thread count.
template <class F>
void parallel_map(std::int64_t n, F&& f) {
  const int nt = threads_for(static_cast<double>(n), kMinElemsPerThread);
  parallel_region(nt, [&](int, int) {
    // A private copy: its captured scalars cannot alias the output, so they
    // stay in registers and the loop vectorises.
    const F body = f;
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) body(i);
  });
}

template <class T> void relu_forward(T* out, const T* x, std::int64_t n) {
  // x < 0 ? 0 : x lets NaN through, as np.maximum(x, 0) does.
  parallel_map(n, [=](std::int64_t i) { out[i] = x[i] < T(0) ? T(0) : x[i]; });
}

template <class T> void relu_backward(T* dx, const T* dout, const T* x, std::int64_t n) {
  // Both operands are loaded unconditionally so the select vectorises (no branch).
  parallel_map(n, [=](std::int64_t i) {
    const T d = dout[i];
    dx[i] = x[i] > T(0) ? d : T(0);
  });
}

template <class T> void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n) {
  parallel_map(n, [=](std::int64_t i) { out[i] = x[i] > T(0) ? x[i] : slope * x[i]; });
}

template <class T>
void leaky_relu_backward(T* dx, const T* dout, const T* x, T slope, std::int64_t n) {
  parallel_map(n, [=](std::int64_t i) {
    const T d = dout[i];
    dx[i] = x[i] > T(0) ? d : slope * d;
  });
}

template <class T> void sigmoid_forward(T* out, const T* x, std::int64_t n) {
  // e = exp(-|x|) <= 1 never overflows; sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) below.
  parallel_map(n, [=](std::int64_t i) {
    const T v = x[i];
    const T e = detail::vexp(v < T(0) ? v : -v);
    const T inv = T(1) / (T(1) + e);
    out[i] = v >= T(0) ? inv : e * inv;
  });
}

template <class T> void sigmoid_backward(T* dx, const T* dout, const T* y, std::int64_t n) {
  parallel_map(n, [=](std::int64_t i) { dx[i] = dout[i] * y[i] * (T(1) - y[i]); });
}

template <class T> void tanh_forward(T* out, const T* x, std::int64_t n) {
  // tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|); near 0, where 1 - e cancels,
  // the odd Taylor series to x^9 is exact to rounding.
  parallel_map(n, [=](std::int64_t i) {
    const T v = x[i];
    const T a = v < T(0) ? -v : v;
    const T e = detail::vexp(T(-2) * a);
    const T big = (T(1) - e) / (T(1) + e);
    const T a2 = a * a;
    const T small =
        a * (T(1) + a2 * (T(-1) / T(3) + a2 * (T(2) / T(15) + a2 * (T(-17) / T(315) +
                                                                   a2 * (T(62) / T(2835))))));
    const T t = a < T(0.01) ? small : big;
    out[i] = v < T(0) ? -t : (v == v ? t : v);
  });
}

template <class T> void tanh_backward(T* dx, const T* dout, const T* y, std::int64_t n) {
  parallel_map(n, [=](std::int64_t i) { dx[i] = dout[i] * (T(1) - y[i] * y[i]); });
}

template <class T>
ActivationTable<T> table() {
  return {&relu_forward<T>,       &relu_backward<T>,   &leaky_relu_forward<T>,
          &leaky_relu_backward<T>, &sigmoid_forward<T>, &sigmoid_backward<T>,
          &tanh_forward<T>,        &tanh_backward<T>};
}

// This compilation's table (its kernels/<isa>/ unit hands it to the context).
inline const ActivationTables& tables() {
  static const ActivationTables instance{table<float>(), table<double>()};
  return instance;
}

}  // namespace FASTBP_ISA_TAG
}  // namespace activation_loops
}  // namespace fastbp
