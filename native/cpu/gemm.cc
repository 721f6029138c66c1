// PLACEHOLDER: a plain, correct SGEMM so that the other kernels can be written against the
// interface. To be replaced by the packed, cache-blocked, SIMD implementation.
#include "gemm.h"

#include "../core/thread_pool.h"

namespace ck::cpu {

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallelRange(M, 1, [=](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; m++) {
      float* c = C + m * ldc;
      for (int64_t n = 0; n < N; n++) c[n] = beta == 0.0f ? 0.0f : beta * c[n];
      for (int64_t k = 0; k < K; k++) {
        float a = alpha * (transA ? A[k * lda + m] : A[m * lda + k]);
        if (!transB) {
          const float* b = B + k * ldb;
          for (int64_t n = 0; n < N; n++) c[n] += a * b[n];
        } else {
          for (int64_t n = 0; n < N; n++) c[n] += a * B[n * ldb + k];
        }
      }
    }
  });
}

void sgemmStridedBatched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                         float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  for (int64_t i = 0; i < batch; i++)
    sgemm(transA, transB, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc);
}

const char* sgemmKernelName() { return "portable"; }

}  // namespace ck::cpu
