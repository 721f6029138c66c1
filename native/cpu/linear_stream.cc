// The streamed small-batch linear kernels (linear_stream.h). AVX-512 through function attributes
// only (the addon is built without -march), reached only when the active ISA level is avx512.
// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (GCC bug 105593), as in gemm_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "linear_stream.h"

#include <algorithm>
#include <optional>

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CK_HAVE_STREAM_PATH 1
#define CK_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

namespace ck::cpu {

bool linearStreamApplies(int64_t N) {
#ifdef CK_HAVE_STREAM_PATH
  return N >= 1 && N <= kStreamMaxBatch && activeAvx512();
#else
  (void)N;
  return false;
#endif
}

bool linearStreamForwardApplies(int64_t N, int64_t in, int64_t out) {
  if (N <= kStreamMinForwardBatch || !linearStreamApplies(1)) return false;
  return N <= kStreamMaxBatch || (N <= kStreamMaxForwardBatch && in * out >= kStreamMinForwardWeight);
}

#ifdef CK_HAVE_STREAM_PATH
namespace {

// Input-gradient tiles: kDataRows batch rows x kDataCols columns of dx (24 accumulators), over
// kDataDepth rows of W at a time, whose sum is added onto dx (as the forward's kSumBlock). Each
// block of W (kDataDepth rows x kDataCols) is copied into a contiguous buffer that every batch
// tile then reads: the rows of W are `in` floats apart (36 KB for fc6, a multiple of 4 KB), so in
// place a block's rows all share the same few L1 sets. The copy also asks for the next block
// (into L2) so that its memory latency overlaps the multiply-adds. (At depth 16 the copy and
// in-place reads measured the same on fc6; the copy keeps the tiles' reads off that stride.)
constexpr int kDataRows = 8, kDataVecs = 3, kDataCols = kDataVecs * 16;
// Depth 16: the rows of a block are read as 16 streams that the L2 streamer keeps up with (at 64
// rows fc6 at batch 16 took 1.5x as long); dx is loaded and stored once per block (12% on top).
constexpr int64_t kDataDepth = 16;

// C[r][0..cols) (+)= sum over k < kc of a[k * kDataRows + r] * b[k * kDataCols + 0..cols), r < rows:
// the block's sum is added onto C unless first. b's columns past cols are zero.
CK_AVX512 void dataTile(int64_t kc, const float* b, const float* a, float* C, int64_t ldc, int rows, int cols,
                        bool first) {
  __mmask16 m[kDataVecs];
  for (int v = 0; v < kDataVecs; v++) m[v] = __mmask16((1u << std::clamp(cols - 16 * v, 0, 16)) - 1);
  __m512 acc[kDataRows][kDataVecs];
#pragma GCC unroll 8
  for (int r = 0; r < kDataRows; r++)
#pragma GCC unroll 3
    for (int v = 0; v < kDataVecs; v++) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k++) {
    __m512 bv[kDataVecs];
#pragma GCC unroll 3
    for (int v = 0; v < kDataVecs; v++) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kDataRows; r++) {
      const __m512 ar = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
      for (int v = 0; v < kDataVecs; v++) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
    a += kDataRows;
    b += kDataCols;
  }
#pragma GCC unroll 8
  for (int r = 0; r < kDataRows; r++)
    if (r < rows)
#pragma GCC unroll 3
      for (int v = 0; v < kDataVecs; v++) {
        float* c = C + r * ldc + 16 * v;
        _mm512_mask_storeu_ps(c, m[v], first ? acc[r][v] : _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], c), acc[r][v]));
      }
}

// buf[k][0..kDataCols) = w[k * ldw + 0..cols), zero past cols, for k < kc; pf (may be null): the
// next block, asked for into L2 row by row.
CK_AVX512 void copyBlock(int64_t kc, const float* w, int64_t ldw, int cols, float* buf, const float* pf) {
  __mmask16 m[kDataVecs];
  for (int v = 0; v < kDataVecs; v++) m[v] = __mmask16((1u << std::clamp(cols - 16 * v, 0, 16)) - 1);
  for (int64_t k = 0; k < kc; k++) {
#pragma GCC unroll 3
    for (int v = 0; v < kDataVecs; v++) {
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + k * ldw + 16 * v), _MM_HINT_T1);
      _mm512_store_ps(buf + k * kDataCols + 16 * v, _mm512_maskz_loadu_ps(m[v], w + k * ldw + 16 * v));
    }
  }
}

// Both kernels sum kSumBlock products at a time and add each block's sum onto the running total,
// as the GEMM's k blocks do (one chain over fc6's 9216 inputs lost ~3 bits more against a float64
// sum).
constexpr int64_t kSumBlock = 384;

// Forward tiles: the batch lies across the vector lanes (V vectors of 16 rows of x, packed
// k-major), and 3G rows of W are broadcast one weight at a time, so W is read in place, row by
// row, never transposed: 3G x V accumulators, V loads and 3G broadcasts per k. Row 3j + s of the
// tile is base j plus s * ldw, which x86 addresses as base + ldw * 4 (or 8) + offset, so 3G rows
// need G pointer registers, not 3G.
template <int V, int G>
CK_AVX512 void forwardTile(int64_t kc, const float* w, int64_t ldw, const float* xp, float* sums, bool first) {
  constexpr int R = 3 * G, Mp = 16 * V;
  const float* base[G];
  for (int j = 0; j < G; j++) base[j] = w + 3 * j * ldw;
  for (int64_t k0 = 0; k0 < kc; k0 += kSumBlock, first = false) {
    const int64_t k1 = std::min(kc, k0 + kSumBlock);
    __m512 acc[R][V];
#pragma GCC unroll 24
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
      for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = k0; k < k1; k++) {
      __m512 xv[V];
#pragma GCC unroll 3
      for (int v = 0; v < V; v++) xv[v] = _mm512_load_ps(xp + k * Mp + 16 * v);
#pragma GCC unroll 8
      for (int j = 0; j < G; j++)
#pragma GCC unroll 3
        for (int s = 0; s < 3; s++) {
          const __m512 a = _mm512_set1_ps(base[j][s * ldw + k]);
#pragma GCC unroll 3
          for (int v = 0; v < V; v++) acc[3 * j + s][v] = _mm512_fmadd_ps(a, xv[v], acc[3 * j + s][v]);
        }
    }
#pragma GCC unroll 24
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
      for (int v = 0; v < V; v++) {
        float* p = sums + r * Mp + 16 * v;
        _mm512_store_ps(p, first ? acc[r][v] : _mm512_add_ps(_mm512_load_ps(p), acc[r][v]));
      }
  }
}

// y [N, out] = x [N, in] * w^T + bias, for N <= 16 * V: rows of W split across the pool in tiles
// of 3G, the last tile's rows copied into a zero-padded block so that every tile is whole.
template <int V, int G>
void forwardBatch(const float* x, const float* w, const float* bias, float* y, int64_t N, int64_t in, int64_t out) {
  constexpr int R = 3 * G, Mp = 16 * V;
  // x k-major, the batch padded to Mp lanes with zeros: xp[k][n] = x[n][k].
  Scratch xpBuf(size_t(in * Mp) * sizeof(float));
  float* xp = xpBuf.as<float>();
  parallelRange(in, 1024, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++)
      for (int64_t n = 0; n < Mp; n++) xp[k * Mp + n] = n < N ? x[n * in + k] : 0.0f;
  });
  const int64_t tiles = (out + R - 1) / R, whole = out / R;
  // The results, o-major (yt[o][n]), and the partial sums between blocks of k: x's block stays in
  // L2 (256 K floats) while the rows of W stream past it.
  Scratch ytBuf(size_t(tiles * R * Mp) * sizeof(float));
  float* yt = ytBuf.as<float>();
  // A whole number of kSumBlock, so that a row's sum is split into the same blocks whatever V is
  // (and so whatever the batch: serving relies on a row not depending on its batch, per path).
  const int64_t kb = std::max<int64_t>(kSumBlock, (int64_t(1) << 18) / Mp / kSumBlock * kSumBlock);
  std::optional<Scratch> tailBuf;
  if (whole < tiles) {
    tailBuf.emplace(size_t(R * in) * sizeof(float));
    float* t = tailBuf->as<float>();
    std::fill(t, t + R * in, 0.0f);
    std::copy(w + whole * R * in, w + out * in, t);
  }
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, in * R * V));
  parallelRange(tiles, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t k0 = 0; k0 < in; k0 += kb) {
      const int64_t kc = std::min(kb, in - k0);
      for (int64_t t = t0; t < t1; t++) {
        const float* rows = t < whole ? w + t * R * in : tailBuf->as<float>();
        forwardTile<V, G>(kc, rows + k0, in, xp + k0 * Mp, yt + t * R * Mp, k0 == 0);
      }
    }
  });
  parallelRange(N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++)
      for (int64_t o = 0; o < out; o++) y[n * out + o] = yt[o * Mp + n] + (bias ? bias[o] : 0.0f);
  });
}

}  // namespace

// Nine rows of W per tile at every batch. A tile reads its rows as that many concurrent streams,
// and more streams than the hardware prefetchers follow leave the loads waiting on memory: on a
// 2-core AMD EPYC (Zen 4), fc6 at batch 16 took 22.4 ms with 24 rows (G = 8, the choice made on
// an Intel Xeon), 15.4 with 18, 9.9 with 12 and 6.1 with 9 or 6 (its ~1.2 GFLOP at the machine's
// SGEMM ceiling, W at ~25 GB/s); at batch 32, 12.7 ms with 12 rows and 11.8 with 9. Nine rows
// still give 9 V independent accumulators per tile, enough to hide the FMA latency on both
// vendors. A row's sums do not depend on G, so results are unchanged (bit for bit).
void linearStreamForward(const float* x, const float* w, const float* bias, float* y, int64_t N, int64_t in,
                         int64_t out) {
  // Whole chunks of kStreamMaxBatch rows, then the rest: as few chunks (reads of W) and as few
  // 16-lane vectors of rows (multiply-adds) as any split. (Even chunks cost more: 100 rows as
  // 3 x 34 pad to 3 x 48 lanes, and fc6 took 47 ms instead of ~41.)
  for (int64_t n0 = 0; n0 < N; n0 += kStreamMaxBatch) {
    const int64_t rows = std::min(kStreamMaxBatch, N - n0);
    const float* xs = x + n0 * in;
    float* ys = y + n0 * out;
    if (rows <= 16) forwardBatch<1, 3>(xs, w, bias, ys, rows, in, out);
    else if (rows <= 32) forwardBatch<2, 3>(xs, w, bias, ys, rows, in, out);
    else forwardBatch<3, 3>(xs, w, bias, ys, rows, in, out);
  }
}

void linearStreamBackwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out) {
  // dy by batch tiles, o-major: packed[t][o][r] = dy[t * kDataRows + r][o], zero past N.
  const int64_t tiles = (N + kDataRows - 1) / kDataRows;
  Scratch packedBuf(size_t(tiles * out * kDataRows) * sizeof(float));
  float* packed = packedBuf.as<float>();
  for (int64_t t = 0; t < tiles; t++)
    for (int64_t o = 0; o < out; o++)
      for (int r = 0; r < kDataRows; r++) {
        const int64_t n = t * kDataRows + r;
        packed[(t * out + o) * kDataRows + r] = n < N ? dy[n * out + o] : 0.0f;
      }
  // Columns are split across the pool in whole tiles; each thread streams its columns of W.
  const int64_t colTiles = (in + kDataCols - 1) / kDataCols;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, out * kDataCols));
  parallelRange(colTiles, grain, [&](int64_t c0, int64_t c1) {
    Scratch blockBuf(size_t(kDataDepth * kDataCols) * sizeof(float));
    float* block = blockBuf.as<float>();
    for (int64_t o0 = 0; o0 < out; o0 += kDataDepth) {
      const int64_t kc = std::min(kDataDepth, out - o0);
      for (int64_t c = c0; c < c1; c++) {
        const int64_t i = c * kDataCols;
        const int cols = int(std::min<int64_t>(kDataCols, in - i));
        const float* wb = w + o0 * in + i;
        const float* next = c + 1 < c1 ? wb + kDataCols : nullptr;
        copyBlock(kc, wb, in, cols, block, next);
        for (int64_t t = 0; t < tiles; t++) {
          const int rows = int(std::min<int64_t>(kDataRows, N - t * kDataRows));
          dataTile(kc, block, packed + (t * out + o0) * kDataRows, dx + t * kDataRows * in + i, in, rows, cols,
                   o0 == 0);
        }
      }
    }
  });
}
#else
void linearStreamForward(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t) {}
void linearStreamBackwardData(const float*, const float*, float*, int64_t, int64_t, int64_t) {}
#endif

}  // namespace ck::cpu
