// AVX2/FMA SGEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators (the classic Haswell
// shape: 12 FMAs per k step fed by 2 loads and 6 broadcasts). Compiled for AVX2 through function
// attributes only, reached only when the CPU reports avx2 and fma. Edge tiles are computed whole
// into a local buffer (the packed panels are zero-padded) and only their valid corner is merged.
#include <immintrin.h>

#include "gemm_kernels.h"

#define CK_AVX2 __attribute__((target("avx2,fma")))

namespace ck::cpu::gemm {

namespace {

constexpr int MR = 6, NR = 16;

CK_AVX2 void tileFull(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, float alpha, float beta,
                      Store mode) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      __m256 ar = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
    }
    a += MR;
    b += NR;
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    float* c = C + r * ldc;
    __m256 x0 = _mm256_mul_ps(va, acc0[r]), x1 = _mm256_mul_ps(va, acc1[r]);
    if (mode == Store::Blend) {
      x0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), x0);
      x1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), x1);
    }
    _mm256_storeu_ps(c, x0);
    _mm256_storeu_ps(c + 8, x1);
  }
}

void tile(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int rows, int cols, float alpha,
          float beta, Store mode) {
  if (rows == MR && cols == NR) return tileFull(kc, a, b, C, ldc, alpha, beta, mode);
  alignas(64) float t[MR * NR];
  tileFull(kc, a, b, t, NR, 1.0f, 0.0f, Store::Overwrite);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) {
      float& c = C[r * ldc + j];
      c = mode == Store::Blend ? alpha * t[r * NR + j] + beta * c : alpha * t[r * NR + j];
    }
}

void packA(bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  packAGeneric(MR, transA, A, lda, m0, rows, k0, kc, dst);
}

CK_AVX2 void packBRows(const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                       int64_t stride) {
  int64_t full = cols / NR;
  for (int64_t k = 0; k < kc; k++) {
    const float* src = B + (k0 + k) * ldb + n0;
    float* d = dst + k * NR;
    for (int64_t p = 0; p < full; p++) {
      _mm256_store_ps(d + p * stride, _mm256_loadu_ps(src + p * NR));
      _mm256_store_ps(d + p * stride + 8, _mm256_loadu_ps(src + p * NR + 8));
    }
  }
  if (cols > full * NR)
    packBGeneric(NR, false, B, ldb, k0, kc, n0 + full * NR, cols - full * NR, dst + full * stride, stride);
}

void packB(bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
           int64_t stride) {
  if (!transB) return packBRows(B, ldb, k0, kc, n0, cols, dst, stride);
  packBGeneric(NR, transB, B, ldb, k0, kc, n0, cols, dst, stride);
}

}  // namespace

const Kernel& avx2Kernel() {
  static const Kernel k{"avx2", MR, NR, packA, packB, tile};
  return k;
}

}  // namespace ck::cpu::gemm
