#include "ops/batchnorm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/threads.hpp"

namespace fastbp {

namespace {

// Elements per chunk of rows in the per-channel sums; depends on nothing but
// the shape, so the order of additions never depends on the thread count.
constexpr std::int64_t kChunkElems = 1 << 14;
constexpr double kMinElemsPerThread = 1 << 15;

// out[k * C + c] = sum over n, s of f(i, c, acc) contributions, K sums per channel:
// f(i, c, acc) adds its K terms for element i = (n * C + c) * S + s into acc[0..K).
// Rows are cut into chunks of fixed size; each chunk's partial sums are kept and
// added in chunk order.
template <int K, class F>
void channel_sums(double* out, std::int64_t N, std::int64_t C, std::int64_t S, F f) {
  const std::int64_t row = C * S;
  const std::int64_t rows_per_chunk = std::max<std::int64_t>(1, kChunkElems / std::max<std::int64_t>(row, 1));
  const std::int64_t chunks = (N + rows_per_chunk - 1) / rows_per_chunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks * K * C), 0.0);
  const int nt = threads_for(static_cast<double>(N * row), kMinElemsPerThread);
  parallel_for(nt, 0, chunks, [&](std::int64_t chunk) {
    double* acc = partial.data() + chunk * K * C;  // (C, K) for this chunk
    const std::int64_t n_end = std::min(N, (chunk + 1) * rows_per_chunk);
    for (std::int64_t n = chunk * rows_per_chunk; n < n_end; ++n)
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t s = 0; s < S; ++s) f((n * C + c) * S + s, c, acc + c * K);
  });
  for (std::int64_t k = 0; k < K * C; ++k) out[k] = 0.0;
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk)
    for (std::int64_t c = 0; c < C; ++c)
      for (int k = 0; k < K; ++k) out[k * C + c] += partial[(chunk * C + c) * K + k];
}

// y = xhat * scale + shift per channel, with xhat = (x - mean) * invstd.
template <class T>
void normalize(T* y, const T* x, const T* mean, const T* invstd, const T* gamma, const T* beta,
               std::int64_t N, std::int64_t C, std::int64_t S) {
  const int nt = threads_for(static_cast<double>(N * C * S), kMinElemsPerThread);
  parallel_for(nt, 0, N * C, [&](std::int64_t nc) {
    const std::int64_t c = nc % C;
    const T m = mean[c], is = invstd[c];
    const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
    const T* xr = x + nc * S;
    T* yr = y + nc * S;
    for (std::int64_t s = 0; s < S; ++s) yr[s] = (xr[s] - m) * is * g + b;
  });
}

}  // namespace

template <class T>
void batchnorm_forward_train(T* y, T* mean, T* invstd, T* running_mean, T* running_var,
                             const T* x, const T* gamma, const T* beta, std::int64_t N,
                             std::int64_t C, std::int64_t S, double eps, double momentum) {
  const double M = static_cast<double>(N * S);
  std::vector<double> sum(static_cast<std::size_t>(C)), sq(static_cast<std::size_t>(C));
  // Two passes (mean, then squared deviations): no cancellation for large means.
  channel_sums<1>(sum.data(), N, C, S, [&](std::int64_t i, std::int64_t, double* acc) {
    acc[0] += static_cast<double>(x[i]);
  });
  for (std::int64_t c = 0; c < C; ++c) sum[c] /= M;  // now the mean
  channel_sums<1>(sq.data(), N, C, S, [&](std::int64_t i, std::int64_t c, double* acc) {
    const double d = static_cast<double>(x[i]) - sum[c];
    acc[0] += d * d;
  });
  for (std::int64_t c = 0; c < C; ++c) {
    const double var = sq[c] / M;  // biased: the one used to normalise
    mean[c] = static_cast<T>(sum[c]);
    invstd[c] = static_cast<T>(1.0 / std::sqrt(var + eps));
    if (running_mean != nullptr) {
      const double unbiased = M > 1 ? sq[c] / (M - 1) : var;
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                       momentum * sum[c]);
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * unbiased);
    }
  }
  normalize(y, x, mean, invstd, gamma, beta, N, C, S);
}

template <class T>
void batchnorm_forward_eval(T* y, T* mean, T* invstd, const T* running_mean,
                            const T* running_var, const T* x, const T* gamma, const T* beta,
                            std::int64_t N, std::int64_t C, std::int64_t S, double eps) {
  for (std::int64_t c = 0; c < C; ++c) {
    mean[c] = running_mean[c];
    invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
  }
  normalize(y, x, mean, invstd, gamma, beta, N, C, S);
}

template <class T>
void batchnorm_backward(T* dx, T* gamma_grad, T* beta_grad, const T* dout, const T* x,
                        const T* mean, const T* invstd, const T* gamma, std::int64_t N,
                        std::int64_t C, std::int64_t S, bool training) {
  // sums[0..C) = sum dout (dbeta), sums[C..2C) = sum dout * xhat (dgamma).
  std::vector<double> sums(static_cast<std::size_t>(2 * C));
  channel_sums<2>(sums.data(), N, C, S, [&](std::int64_t i, std::int64_t c, double* acc) {
    const double d = static_cast<double>(dout[i]);
    acc[0] += d;
    acc[1] += d * (static_cast<double>(x[i]) - static_cast<double>(mean[c])) *
              static_cast<double>(invstd[c]);
  });
  const double M = static_cast<double>(N * S);
  std::vector<T> scale(static_cast<std::size_t>(C)), dbeta_m(static_cast<std::size_t>(C)),
      dgamma_m(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) {
    if (beta_grad != nullptr) beta_grad[c] += static_cast<T>(sums[c]);
    if (gamma_grad != nullptr) gamma_grad[c] += static_cast<T>(sums[C + c]);
    scale[c] = (gamma ? gamma[c] : T(1)) * invstd[c];
    dbeta_m[c] = training ? static_cast<T>(sums[c] / M) : T(0);
    dgamma_m[c] = training ? static_cast<T>(sums[C + c] / M) : T(0);
  }
  const int nt = threads_for(static_cast<double>(N * C * S), kMinElemsPerThread);
  parallel_for(nt, 0, N * C, [&](std::int64_t nc) {
    const std::int64_t c = nc % C;
    const T m = mean[c], is = invstd[c], k = scale[c], db = dbeta_m[c], dg = dgamma_m[c];
    const T* xr = x + nc * S;
    const T* dr = dout + nc * S;
    T* dxr = dx + nc * S;
    if (training) {
      for (std::int64_t s = 0; s < S; ++s) {
        const T xhat = (xr[s] - m) * is;
        dxr[s] = k * (dr[s] - db - xhat * dg);
      }
    } else {
      for (std::int64_t s = 0; s < S; ++s) dxr[s] = k * dr[s];
    }
  });
}

#define FASTBP_INSTANTIATE(T)                                                                   \
  template void batchnorm_forward_train<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*,  \
                                           std::int64_t, std::int64_t, std::int64_t, double,   \
                                           double);                                            \
  template void batchnorm_forward_eval<T>(T*, T*, T*, const T*, const T*, const T*, const T*, \
                                          const T*, std::int64_t, std::int64_t, std::int64_t,  \
                                          double);                                             \
  template void batchnorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,     \
                                      const T*, std::int64_t, std::int64_t, std::int64_t, bool);
FASTBP_INSTANTIATE(float)
FASTBP_INSTANTIATE(double)
#undef FASTBP_INSTANTIATE

}  // namespace fastbp
