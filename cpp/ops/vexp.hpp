// exp(x) written so that a loop calling it vectorises: no branches, no libm.
// Compiled per ISA where included (see runtime/isa_tag.hpp).
//
// Method: x = n*ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), a Taylor
// polynomial for exp(r), and 2^n added straight into the exponent bits.
// Accuracy: about 1 ulp in float, 2 ulp in double. x above the overflow
// threshold gives +inf, below the underflow threshold 0 (no subnormals), NaN
// stays NaN.
#pragma once

#include <cstdint>
#include <cstring>

#include "runtime/isa_tag.hpp"

namespace fastbp::detail {
inline namespace FASTBP_ISA_TAG {

template <class T> struct ExpTraits;

template <> struct ExpTraits<float> {
  using Bits = std::uint32_t;
  static constexpr int kMantissa = 23;
  static constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float kMax = 88.3762626647949f;   // exp(kMax) < FLT_MAX
  static constexpr float kMin = -87.3365447505531f;  // exp(kMin) = FLT_MIN
  static constexpr float kLn2Hi = 0.693145751953125f;
  static constexpr float kLn2Lo = 1.428606765330187e-06f;
  static constexpr int kDegree = 7;
};

template <> struct ExpTraits<double> {
  using Bits = std::uint64_t;
  static constexpr int kMantissa = 52;
  static constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kMax = 709.782712893383;
  static constexpr double kMin = -708.396418532264;
  static constexpr double kLn2Hi = 0.693147180369123816490;
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr int kDegree = 13;
};

template <class T> inline T vexp(T x) {
  using E = ExpTraits<T>;
  using Bits = typename E::Bits;
  constexpr T kLog2e = T(1.44269504088896340736);
  // Clamp into the normal range; the ends are patched at the bottom.
  T c = x < E::kMin ? E::kMin : x;
  c = c > E::kMax ? E::kMax : c;
  const T t = c * kLog2e + E::kMagic;
  const T n = t - E::kMagic;  // round(c / ln2)
  // Bit arithmetic in unsigned integers: for a NaN x the bits are garbage (the result is
  // replaced below), and signed overflow would be undefined behaviour.
  Bits t_bits, m_bits;
  std::memcpy(&t_bits, &t, sizeof(T));
  const T magic = E::kMagic;
  std::memcpy(&m_bits, &magic, sizeof(T));
  const Bits n_int = t_bits - m_bits;  // n as an integer, from the mantissa bits
  const T r = (c - n * E::kLn2Hi) - n * E::kLn2Lo;
  // exp(r) = sum r^k / k!, Horner from the highest term.
  T p = T(1);
  for (int k = E::kDegree; k >= 1; --k) p = T(1) + p * (r * (T(1) / T(k)));
  Bits p_bits;
  std::memcpy(&p_bits, &p, sizeof(T));
  p_bits += n_int << E::kMantissa;
  T result;
  std::memcpy(&result, &p_bits, sizeof(T));
  result = x > E::kMax ? T(__builtin_inf()) : result;
  result = x < E::kMin ? T(0) : result;
  return x != x ? x : result;
}

}  // namespace FASTBP_ISA_TAG
}  // namespace fastbp::detail
