// Scalar packing into the panel layouts of gemm_kernels.h. Any family can use these; the AVX
// families replace the hot cases (B not transposed) with vector copies.
#include <algorithm>

#include "gemm_kernels.h"

namespace ck::cpu::gemm {

void packAGeneric(int mr, bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc,
                  float* dst) {
  if (!transA) {
    // Rows of A are contiguous along k: read each row once, scatter into the k-major panel.
    for (int64_t r = 0; r < rows; r++) {
      const float* src = A + (m0 + r) * lda + k0;
      for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = src[k];
    }
    for (int64_t r = rows; r < mr; r++)
      for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = 0.0f;
    return;
  }
  for (int64_t k = 0; k < kc; k++) {
    const float* src = A + (k0 + k) * lda + m0;
    float* d = dst + k * mr;
    int64_t r = 0;
    for (; r < rows; r++) d[r] = src[r];
    for (; r < mr; r++) d[r] = 0.0f;
  }
}

void packBGeneric(int nr, bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols,
                  float* dst, int64_t stride) {
  int64_t panels = (cols + nr - 1) / nr;
  if (!transB) {
    for (int64_t k = 0; k < kc; k++) {
      const float* src = B + (k0 + k) * ldb + n0;
      for (int64_t p = 0; p < panels; p++) {
        float* d = dst + p * stride + k * nr;
        int64_t w = std::min<int64_t>(nr, cols - p * nr);
        int64_t j = 0;
        for (; j < w; j++) d[j] = src[p * nr + j];
        for (; j < nr; j++) d[j] = 0.0f;
      }
    }
    return;
  }
  // op(B)[k][n] = B[n*ldb + k]: each column of op(B) is a contiguous row of B.
  for (int64_t p = 0; p < panels; p++) {
    float* d = dst + p * stride;
    int64_t w = std::min<int64_t>(nr, cols - p * nr);
    for (int64_t j = 0; j < w; j++) {
      const float* src = B + (n0 + p * nr + j) * ldb + k0;
      for (int64_t k = 0; k < kc; k++) d[k * nr + j] = src[k];
    }
    for (int64_t j = w; j < nr; j++)
      for (int64_t k = 0; k < kc; k++) d[k * nr + j] = 0.0f;
  }
}

}  // namespace ck::cpu::gemm
