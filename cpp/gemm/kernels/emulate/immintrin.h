// Scalar stand-ins for the AVX-512 intrinsics gemm_avx512.cpp uses, so its
// kernels can be checked on a CPU without AVX-512 (tests/test_gemm.py builds
// check_kernels.cpp against this header). Never part of the library build.
#pragma once
#include <cstdint>
#include <cstring>
struct __m512 { float v[16]; };
struct __m512d { double v[8]; };
typedef uint16_t __mmask16;
typedef uint8_t __mmask8;
#define _MM_HINT_T0 0
inline void _mm_prefetch(const char*, int) {}
inline __m512 _mm512_setzero_ps() { __m512 r; for (int i=0;i<16;i++) r.v[i]=0; return r; }
inline __m512 _mm512_set1_ps(float x) { __m512 r; for (int i=0;i<16;i++) r.v[i]=x; return r; }
inline __m512 _mm512_load_ps(const void* p) { if ((uintptr_t)p % 64) __builtin_trap(); __m512 r; std::memcpy(r.v,p,64); return r; }
inline __m512 _mm512_loadu_ps(const void* p) { __m512 r; std::memcpy(r.v,p,64); return r; }
inline void _mm512_storeu_ps(void* p, __m512 a) { std::memcpy(p,a.v,64); }
inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const void* p) { __m512 r; for (int i=0;i<16;i++) r.v[i] = (k>>i)&1 ? ((const float*)p)[i] : 0.f; return r; }
inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 a) { for (int i=0;i<16;i++) if ((k>>i)&1) ((float*)p)[i]=a.v[i]; }
inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) { __m512 r; for (int i=0;i<16;i++) r.v[i]=__builtin_fmaf(a.v[i],b.v[i],c.v[i]); return r; }
inline __m512 _mm512_mul_ps(__m512 a, __m512 b) { __m512 r; for (int i=0;i<16;i++) r.v[i]=a.v[i]*b.v[i]; return r; }
inline __m512 _mm512_add_ps(__m512 a, __m512 b) { __m512 r; for (int i=0;i<16;i++) r.v[i]=a.v[i]+b.v[i]; return r; }
inline __m512d _mm512_setzero_pd() { __m512d r; for (int i=0;i<8;i++) r.v[i]=0; return r; }
inline __m512d _mm512_set1_pd(double x) { __m512d r; for (int i=0;i<8;i++) r.v[i]=x; return r; }
inline __m512d _mm512_load_pd(const void* p) { if ((uintptr_t)p % 64) __builtin_trap(); __m512d r; std::memcpy(r.v,p,64); return r; }
inline __m512d _mm512_loadu_pd(const void* p) { __m512d r; std::memcpy(r.v,p,64); return r; }
inline void _mm512_storeu_pd(void* p, __m512d a) { std::memcpy(p,a.v,64); }
inline __m512d _mm512_maskz_loadu_pd(__mmask8 k, const void* p) { __m512d r; for (int i=0;i<8;i++) r.v[i] = (k>>i)&1 ? ((const double*)p)[i] : 0.; return r; }
inline void _mm512_mask_storeu_pd(void* p, __mmask8 k, __m512d a) { for (int i=0;i<8;i++) if ((k>>i)&1) ((double*)p)[i]=a.v[i]; }
inline __m512d _mm512_fmadd_pd(__m512d a, __m512d b, __m512d c) { __m512d r; for (int i=0;i<8;i++) r.v[i]=__builtin_fma(a.v[i],b.v[i],c.v[i]); return r; }
inline __m512d _mm512_mul_pd(__m512d a, __m512d b) { __m512d r; for (int i=0;i<8;i++) r.v[i]=a.v[i]*b.v[i]; return r; }
inline __m512d _mm512_add_pd(__m512d a, __m512d b) { __m512d r; for (int i=0;i<8;i++) r.v[i]=a.v[i]+b.v[i]; return r; }
