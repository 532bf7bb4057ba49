#include "ops/activations.hpp"

#include "runtime/context.hpp"

namespace fastbp {

namespace {

// The active context's loops for T.
template <class T> const ActivationTable<T>& active();
template <> const ActivationTable<float>& active<float>() {
  return kernel_context().activations->f32;
}
template <> const ActivationTable<double>& active<double>() {
  return kernel_context().activations->f64;
}

}  // namespace

template <class T> void relu_forward(T* out, const T* x, std::int64_t n) {
  active<T>().relu_forward(out, x, n);
}
template <class T> void relu_backward(T* dx, const T* dout, const T* x, std::int64_t n) {
  active<T>().relu_backward(dx, dout, x, n);
}
template <class T> void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n) {
  active<T>().leaky_relu_forward(out, x, slope, n);
}
template <class T>
void leaky_relu_backward(T* dx, const T* dout, const T* x, T slope, std::int64_t n) {
  active<T>().leaky_relu_backward(dx, dout, x, slope, n);
}
template <class T> void sigmoid_forward(T* out, const T* x, std::int64_t n) {
  active<T>().sigmoid_forward(out, x, n);
}
template <class T> void sigmoid_backward(T* dx, const T* dout, const T* y, std::int64_t n) {
  active<T>().sigmoid_backward(dx, dout, y, n);
}
template <class T> void tanh_forward(T* out, const T* x, std::int64_t n) {
  active<T>().tanh_forward(out, x, n);
}
template <class T> void tanh_backward(T* dx, const T* dout, const T* y, std::int64_t n) {
  active<T>().tanh_backward(dx, dout, y, n);
}

#define FASTBP_INSTANTIATE(T)                                                      \
  template void relu_forward<T>(T*, const T*, std::int64_t);                       \
  template void relu_backward<T>(T*, const T*, const T*, std::int64_t);            \
  template void leaky_relu_forward<T>(T*, const T*, T, std::int64_t);              \
  template void leaky_relu_backward<T>(T*, const T*, const T*, T, std::int64_t);   \
  template void sigmoid_forward<T>(T*, const T*, std::int64_t);                    \
  template void sigmoid_backward<T>(T*, const T*, const T*, std::int64_t);         \
  template void tanh_forward<T>(T*, const T*, std::int64_t);                       \
  template void tanh_backward<T>(T*, const T*, const T*, std::int64_t);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
