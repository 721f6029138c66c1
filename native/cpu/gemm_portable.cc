// Portable SGEMM micro-kernel: plain C++ over a 6 x 8 tile, small enough that the compiler keeps
// the accumulators in the 16 baseline SSE registers and vectorises the row updates (a 4 x 16
// tile spilled and ran 4x slower). The fallback for CPUs without AVX2/FMA.
#include "gemm_kernels.h"

namespace ck::cpu::gemm {

namespace {

constexpr int MR = 6, NR = 8;

void tile(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int rows, int cols, float alpha,
          float beta, Store mode) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; k++) {
    for (int r = 0; r < MR; r++) {
      float ar = a[r];
      for (int j = 0; j < NR; j++) acc[r][j] += ar * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) {
      float& c = C[r * ldc + j];
      c = mode == Store::Blend ? alpha * acc[r][j] + beta * c : alpha * acc[r][j];
    }
}

void packA(bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  packAGeneric(MR, transA, A, lda, m0, rows, k0, kc, dst);
}

void packB(bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
           int64_t stride) {
  packBGeneric(NR, transB, B, ldb, k0, kc, n0, cols, dst, stride);
}

}  // namespace

const Kernel& portableKernel() {
  static const Kernel k{"portable", MR, NR, packA, packB, tile};
  return k;
}

}  // namespace ck::cpu::gemm
