// cuBLAS is column-major; a row-major matrix X with row stride ld is, read column-major, X^T with
// the same leading dimension. So row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T:
// the operands are swapped and M, N exchanged (Caffe's caffe_gpu_gemm does the same).
#include <climits>
#include <string>

#include "../core/errors.h"
#include "cublas_loader.h"
#include "gemm.h"
#include "launch.h"
#include "cuda_check.h"

namespace ck::cuda {

namespace {

int asInt(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw Error(Code::Arg, std::string("sgemm: ") + what + " = " + std::to_string(v) + " does not fit cuBLAS's int");
  return int(v);
}

void checkStatus(blas::Status s, const char* op) {
  if (s != blas::Status(0)) throw Error(Code::Cuda, std::string(op) + ": " + cublasStatusName(s));
}

// beta * C for the K == 0 case (cuBLAS would do it too; written out so beta == 0 clears NaNs).
__global__ void scale_rows_kernel(float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
  CK_GRID_STRIDE(i, M * N) {
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.f ? 0.f : beta * *c;
  }
}

}  // namespace

void sgemm(Ctx& ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemmStridedBatched(ctx, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

void sgemmStridedBatched(Ctx& ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                         float beta, float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  ctx.makeCurrent();
  if (K == 0) {
    for (int64_t b = 0; b < batch; b++) {
      scale_rows_kernel<<<gridFor(M * N), kThreads, 0, ctx.stream()>>>(C + b * strideC, M, N, ldc, beta);
      checkLaunch("sgemm");
    }
    return;
  }
  applyMathMode(ctx);
  const Cublas& lib = cublas();
  blas::Handle h = ctx.blasHandle();
  blas::Operation opA = transA ? blas::kOpT : blas::kOpN, opB = transB ? blas::kOpT : blas::kOpN;
  int m = asInt(N, "N"), n = asInt(M, "M"), k = asInt(K, "K");
  // Leading dimensions below 1 are rejected by cuBLAS even when the matrix is one row.
  int la = asInt(lda > 0 ? lda : 1, "lda"), lb = asInt(ldb > 0 ? ldb : 1, "ldb"), lc = asInt(ldc > 0 ? ldc : 1, "ldc");
  if (batch == 1) {
    checkStatus(lib.sgemm(h, opB, opA, m, n, k, &alpha, B, lb, A, la, &beta, C, lc), "cublasSgemm");
    return;
  }
  checkStatus(lib.sgemmStridedBatched(h, opB, opA, m, n, k, &alpha, B, lb, strideB, A, la, strideA, &beta, C, lc,
                                      strideC, asInt(batch, "batch")),
              "cublasSgemmStridedBatched");
}

}  // namespace ck::cuda
