// SGEMM, row-major: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
// lda/ldb/ldc are the row strides of A, B and C as stored (A is [M,K] or, transposed, [K,M]).
// beta == 0 ignores C's old contents. Multithreaded on ck::threadPool() (serial when called
// from inside a pool task).
#pragma once
#include <cstdint>

namespace ck::cpu {

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// `batch` independent GEMMs; matrix i starts at A + i*strideA (and likewise B, C).
void sgemmStridedBatched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                         float* C, int64_t ldc, int64_t strideC, int64_t batch);

// The micro-kernel chosen at run time for this CPU: "avx512", "avx2" or "portable".
const char* sgemmKernelName();

}  // namespace ck::cpu
