// The pieces one SGEMM micro-kernel family provides to the blocked driver in gemm.cc.
//
// Packed layouts (shared by every family, parametrised by its tile MR x NR):
//   A panel: MR rows of op(A) for a block of kc columns, stored k-major: a[k*MR + r], rows past
//            the matrix edge are zero.
//   B panel: NR columns of op(B) for a block of kc rows, stored k-major: b[k*NR + j], columns past
//            the edge are zero. Consecutive panels start `stride` floats apart, 64-byte aligned;
//            the stride is kc*NR plus one cache line, so that packing (which writes one row of
//            every panel in turn) does not aim all its stores at the same L1 set.
// The tile function computes one MR x NR product of a packed A panel and a packed B panel and
// writes its top-left rows x cols corner into C:
//   mode Overwrite:  C = alpha*AB            (C's old contents are never read, NaN included)
//   mode Blend:      C = alpha*AB + beta*C
//   mode Stream:     as Overwrite, with non-temporal stores where a kernel has them (the AVX-512
//                    one, on full tiles whose rows are 64-byte aligned): the driver picks it for
//                    a C far larger than the caches, written once (the fc layers' weight
//                    gradients), which is then stored without first being read in for ownership.
//                    The caller fences (sfence) before another thread reads C.
#pragma once
#include <cstdint>

namespace ck::cpu::gemm {

enum class Store { Overwrite, Blend, Stream };

struct Kernel {
  const char* name;
  int mr, nr;
  // Packs rows [m0, m0+rows) x columns [k0, k0+kc) of op(A) into one A panel.
  void (*packA)(bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst);
  // Packs columns [n0, n0+cols) x rows [k0, k0+kc) of op(B) into ceil(cols/NR) panels.
  void (*packB)(bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                int64_t stride);
  void (*tile)(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int rows, int cols, float alpha,
               float beta, Store mode);
};

const Kernel& avx512Kernel();
const Kernel& avx2Kernel();
const Kernel& portableKernel();

// Scalar packing used by every family for the layouts above (the AVX files add fast paths for
// the common cases). MR and NR are runtime values here: these paths are not the hot ones.
void packAGeneric(int mr, bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc,
                  float* dst);
void packBGeneric(int nr, bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols,
                  float* dst, int64_t stride);

}  // namespace ck::cpu::gemm
