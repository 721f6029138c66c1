// AVX-512 SGEMM micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators. Per k step it loads
// two vectors of the B panel and broadcasts 12 values of the A panel straight into the FMAs,
// so 24 FMAs are fed by 2 loads + 12 broadcast operands: FMA-bound on cores with two FMA units.
// Compiled for AVX-512 through function attributes only (the addon is built without -march),
// and reached only when the CPU reports avx512f.
// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (_mm512_undefined_ps inside the
// shuffle intrinsics, GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "gemm_kernels.h"

#define CK_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace ck::cpu::gemm {

namespace {

constexpr int MR = 12, NR = 32;

template <int R>
CK_AVX512 void tileRows(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int cols, float alpha,
                        float beta, Store mode) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
  // The C tile is touched only at the end: start pulling it in now (unless it is streamed out,
  // when its old contents are never needed).
  const bool stream =
      mode == Store::Stream && cols == NR && (reinterpret_cast<uintptr_t>(C) & 63) == 0 && (ldc & 15) == 0;
#pragma GCC unroll 12
  for (int r = 0; r < R && !stream; r++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    // The B panel streams from L2: ask for both of its lines 8 steps ahead.
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      __m512 ar = _mm512_set1_ps(a[r]);
      acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
    }
    a += MR;
    b += NR;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (cols == NR) {
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      float* c = C + r * ldc;
      __m512 x0 = _mm512_mul_ps(va, acc0[r]), x1 = _mm512_mul_ps(va, acc1[r]);
      if (mode == Store::Blend) {
        x0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), x0);
        x1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), x1);
      }
      if (stream) {
        _mm512_stream_ps(c, x0);
        _mm512_stream_ps(c + 16, x1);
      } else {
        _mm512_storeu_ps(c, x0);
        _mm512_storeu_ps(c + 16, x1);
      }
    }
    return;
  }
  __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  __mmask16 m1 = cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    float* c = C + r * ldc;
    __m512 x0 = _mm512_mul_ps(va, acc0[r]), x1 = _mm512_mul_ps(va, acc1[r]);
    if (mode == Store::Blend) {
      x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), x0);
      x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), x1);
    }
    _mm512_mask_storeu_ps(c, m0, x0);
    _mm512_mask_storeu_ps(c + 16, m1, x1);
  }
}

// The last panel of an N that ends 1-16 columns past a multiple of 32 (AlexNet's 13x13 layers
// at batch 1: N = 169 = 5 * 32 + 9): only the first 16 columns exist, so half the FMAs.
template <int R>
CK_AVX512 void tileRowsNarrow(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int cols, float alpha,
                              float beta, Store mode) {
  __m512 acc[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r]);
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    float* c = C + r * ldc;
    __m512 x = _mm512_mul_ps(va, acc[r]);
    if (mode == Store::Blend) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, c), x);
    _mm512_mask_storeu_ps(c, m, x);
  }
}

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int, float, float, Store);
// One instantiation per row count, so the last panel of an M that is not a multiple of 12 runs
// only the FMAs it needs (M = 256 ends on a 4-row panel).
const TileFn kTiles[MR + 1] = {nullptr,      tileRows<1>,  tileRows<2>, tileRows<3>, tileRows<4>,
                               tileRows<5>,  tileRows<6>,  tileRows<7>, tileRows<8>, tileRows<9>,
                               tileRows<10>, tileRows<11>, tileRows<12>};

const TileFn kNarrowTiles[MR + 1] = {nullptr,           tileRowsNarrow<1>, tileRowsNarrow<2>,  tileRowsNarrow<3>,
                                     tileRowsNarrow<4>, tileRowsNarrow<5>, tileRowsNarrow<6>,  tileRowsNarrow<7>,
                                     tileRowsNarrow<8>, tileRowsNarrow<9>, tileRowsNarrow<10>, tileRowsNarrow<11>,
                                     tileRowsNarrow<12>};

void tile(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int rows, int cols, float alpha,
          float beta, Store mode) {
  (cols <= 16 ? kNarrowTiles : kTiles)[rows](kc, a, b, C, ldc, cols, alpha, beta, mode);
}

// In-register transpose of 16 rows of 16 floats: r[i][t] becomes r[t][i].
CK_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
#pragma GCC unroll 8
  for (int p = 0; p < 8; p++) {
    t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
    t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
  }
  // u[4q+c], lane L: column 4L+c of rows 4q..4q+3.
#pragma GCC unroll 4
  for (int q = 0; q < 4; q++) {
    u[4 * q + 0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
    u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; c++) {
    __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    __m512 v1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(v0, v1, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(w0, w1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(w0, w1, 0xDD);
  }
}

// Loads `rows` (<= 16) rows of `n` (<= 16) floats, row i at src + i*ld; the rest are zero.
CK_AVX512 inline void loadBlock(__m512 r[16], const float* src, int64_t ld, int rows, int n) {
  __mmask16 m = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(m, src + i * ld) : _mm512_setzero_ps();
}

// op(A) = A: each panel row k is a column of A's 12 rows, so transpose 16 k at a time.
CK_AVX512 void packARows(const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  __m512 r[16];
  const float* src = A + m0 * lda + k0;
  for (int64_t k = 0; k < kc; k += 16) {
    int n = int(kc - k < 16 ? kc - k : 16);
    loadBlock(r, src + k, lda, int(rows), n);
    transpose16(r);
    // Lane t of r[t] holds k+t of every row: its first 12 lanes are one panel row.
    for (int t = 0; t < n; t++) _mm512_mask_storeu_ps(dst + (k + t) * MR, __mmask16(0x0FFF), r[t]);
  }
}

// op(A) = A^T: panel row k is `rows` contiguous floats of row k0 + k of A (rows past the edge
// zero), one masked copy per k. A convolution's input gradient takes W^T this way per chunk.
CK_AVX512 void packACols(const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  const __mmask16 live = __mmask16((1u << rows) - 1), panel = __mmask16((1u << MR) - 1);
  const float* src = A + k0 * lda + m0;
  for (int64_t k = 0; k < kc; k++)
    _mm512_mask_storeu_ps(dst + k * MR, panel, _mm512_maskz_loadu_ps(live, src + k * lda));
}

void packA(bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  if (!transA) return packARows(A, lda, m0, rows, k0, kc, dst);
  packACols(A, lda, m0, rows, k0, kc, dst);
}

// op(B) = B^T: panel column j is row n0+j of B, contiguous along k; transpose 16 x 16 blocks.
CK_AVX512 void packBCols(const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                         int64_t stride) {
  __m512 r[16];
  for (int64_t p = 0; p * NR < cols; p++) {
    float* d = dst + p * stride;
    for (int h = 0; h < 2; h++) {
      int64_t j0 = p * NR + h * 16;
      int rows = int(cols - j0 >= 16 ? 16 : cols - j0 > 0 ? cols - j0 : 0);
      const float* src = B + (n0 + j0) * ldb + k0;
      for (int64_t k = 0; k < kc; k += 16) {
        int n = int(kc - k < 16 ? kc - k : 16);
        loadBlock(r, src + k, ldb, rows, n);
        transpose16(r);
        for (int t = 0; t < n; t++) _mm512_store_ps(d + (k + t) * NR + h * 16, r[t]);
      }
    }
  }
}

// op(B) = B: every panel row is 32 contiguous floats of a row of B, so copy whole vectors,
// walking B row by row (one page at a time) rather than panel by panel.
CK_AVX512 void packBRows(const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                         int64_t stride) {
  int64_t full = cols / NR, rest = cols - full * NR;
  __mmask16 m0 = rest >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << rest) - 1);
  __mmask16 m1 = rest <= 16 ? __mmask16(0) : __mmask16((1u << (rest - 16)) - 1);
  for (int64_t k = 0; k < kc; k++) {
    const float* src = B + (k0 + k) * ldb + n0;
    float* d = dst + k * NR;
    for (int64_t p = 0; p < full; p++) {
      _mm512_store_ps(d + p * stride, _mm512_loadu_ps(src + p * NR));
      _mm512_store_ps(d + p * stride + 16, _mm512_loadu_ps(src + p * NR + 16));
    }
    if (rest) {
      const float* s = src + full * NR;
      float* dd = d + full * stride;
      _mm512_store_ps(dd, _mm512_maskz_loadu_ps(m0, s));
      _mm512_store_ps(dd + 16, _mm512_maskz_loadu_ps(m1, s + 16));
    }
  }
}

void packB(bool transB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
           int64_t stride) {
  if (!transB) return packBRows(B, ldb, k0, kc, n0, cols, dst, stride);
  packBCols(B, ldb, k0, kc, n0, cols, dst, stride);
}

}  // namespace

const Kernel& avx512Kernel() {
  static const Kernel k{"avx512", MR, NR, packA, packB, tile};
  return k;
}

}  // namespace ck::cpu::gemm
