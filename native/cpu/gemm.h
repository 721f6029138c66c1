// SGEMM, row-major: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
// lda/ldb/ldc are the row strides of A, B and C as stored (A is [M,K] or, transposed, [K,M]).
// beta == 0 ignores C's old contents. Multithreaded on ck::threadPool() (serial when called
// from inside a pool task).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace ck::cpu {

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// `batch` independent GEMMs; matrix i starts at A + i*strideA (and likewise B, C).
void sgemmStridedBatched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                         float* C, int64_t ldc, int64_t strideC, int64_t batch);

// Writes rows [k0, k0+kc) x columns [n0, n0+cols) of a B operand into ceil(cols/nr) packed
// panels of nr columns each, `stride` floats apart, stored k-major (panel[k*nr + j]), columns past
// `cols` zero: the B panel layout of gemm_kernels.h. Called from pool threads, concurrently.
using BPanelPacker =
    std::function<void(int64_t k0, int64_t kc, int64_t n0, int64_t cols, int nr, float* dst, int64_t stride)>;

// C[M,N] = A[M,K] * B + beta * C with a B that is never stored: the driver asks packB for each
// block it needs (a convolution packs its image columns straight from the input, no im2col
// buffer). A is row-major, not transposed.
void sgemmPackedB(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const BPanelPacker& packB, float beta,
                  float* C, int64_t ldc);

// op(A) packed once into the active kernel's A panels, for several products against different
// B: a convolution's weights against each chunk of its images, which the driver would otherwise
// pack again for every chunk. The sums are the same as sgemm's, bit for bit. The panels are
// held whole (sgemm packs a tall A in row slices instead): meant for a layer's weights.
class PackedA {
 public:
  PackedA(bool transA, int64_t M, int64_t K, const float* A, int64_t lda);
  ~PackedA();
  PackedA(PackedA&&) noexcept;
  PackedA& operator=(PackedA&&) noexcept;
  int64_t rows() const;
  int64_t depth() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// C[M,N] = op(A) * op(B) + beta * C, with op(A) from `a` (M = a.rows(), K = a.depth()).
void sgemm(const PackedA& a, bool transB, int64_t N, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// sgemmPackedB with op(A) from `a`.
void sgemmPackedB(const PackedA& a, int64_t N, const BPanelPacker& packB, float beta, float* C, int64_t ldc);

// The micro-kernel the active ISA level (isa.h) selects: "avx512", "avx2" or "portable".
const char* sgemmKernelName();

}  // namespace ck::cpu
