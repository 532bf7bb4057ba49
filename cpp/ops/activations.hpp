// Element-wise activations and their backward passes.
// Legend: n elements; every array is contiguous with n elements.
// forward(out, x): out may alias x. backward(dx, dout, saved): dx may alias dout.
#pragma once

#include <cstdint>

namespace fastbp {

template <class T> void relu_forward(T* out, const T* x, std::int64_t n);
template <class T> void relu_backward(T* dx, const T* dout, const T* x, std::int64_t n);

template <class T> void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n);
template <class T>
void leaky_relu_backward(T* dx, const T* dout, const T* x, T slope, std::int64_t n);

// Backward passes take y, the forward output, as the textbooks do.
template <class T> void sigmoid_forward(T* out, const T* x, std::int64_t n);
template <class T> void sigmoid_backward(T* dx, const T* dout, const T* y, std::int64_t n);

template <class T> void tanh_forward(T* out, const T* x, std::int64_t n);
template <class T> void tanh_backward(T* dx, const T* dout, const T* y, std::int64_t n);

// GELU, PyTorch's approximate="tanh" form; backward takes x, the forward input.
template <class T> void gelu_forward(T* out, const T* x, std::int64_t n);
template <class T> void gelu_backward(T* dx, const T* dout, const T* x, std::int64_t n);

}  // namespace fastbp
