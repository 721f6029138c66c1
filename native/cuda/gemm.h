// SGEMM on the GPU through cuBLAS, row-major like ck::cpu::sgemm:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C   (beta == 0: C's old contents unread)
// Same arguments as the CPU twin plus the device context. TF32 only when ctx.tf32 is set.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void sgemm(Ctx& ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void sgemmStridedBatched(Ctx& ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                         float beta, float* C, int64_t ldc, int64_t strideC, int64_t batch);

}  // namespace ck::cuda
