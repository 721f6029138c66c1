// Linear layers at small batch with the weight read straight from its row-major [out, in] layout,
// never packed. At batch 16 AlexNet's fc6 weight (151 MB) is ~4x larger than the last-level cache
// share a step gets, and the GEMM spent most of its time packing it (a copy bound by memory
// latency, ~10 GB/s, then the multiply-adds, one after the other on each thread): here each
// thread streams its share of W once, with the next tile's lines prefetched, while the small
// operands (the batch rows of dy or x, a few hundred KB) stay in cache. AVX-512 only: other ISA
// levels keep the GEMM (linear.cc asks linearStreamApplies and linearStreamForwardApplies first).
#pragma once
#include <cstdint>

namespace ck::cpu {

// Largest batch the streamed kernels take; above it a GEMM reuses each packed weight block over
// enough rows to pay for packing it (fc6's input gradient, this kernel against the GEMM, on a
// 2-core Xeon: 1.65x as fast at batch 16, 1.3x at 32, 1.05x at 48, even at 64).
constexpr int64_t kStreamMaxBatch = 48;

// The forward takes batches above this one; up to it the dot products of smallBatchLinear
// (conv_direct.h) are as fast or faster (fc6 on a Xeon: 6.5 ms against 8.0 at batch 8, even at
// 12, this kernel 1.28x as fast at 16, 1.48x at 32, 1.46x at 48; on an EPYC with 9-row tiles:
// 6.0 against 6.3 at batch 8, 3.8 against 6.5 at batch 1).
constexpr int64_t kStreamMinForwardBatch = 8;

// Whether linearStream* runs for this batch: the active ISA level is avx512 and 1 <= N <= kStreamMaxBatch.
bool linearStreamApplies(int64_t N);

// Above kStreamMaxBatch the forward still streams a weight of at least kStreamMinForwardWeight
// floats (8 MB, far past a core's L2, so the GEMM packs it from memory) up to this batch, in
// chunks of at most kStreamMaxBatch rows, each of which reads W once more. The GEMM gets little
// reuse from each packed block of W with so few rows: on a 2-core EPYC fc6 at batch 64 took
// 31.3 ms in the GEMM (164 GFLOP/s) and 23.4 here (207, the machine's SGEMM ceiling), fc7 13.4
// against 10.9, fc6 at batch 128 56.5 against 45.7; at 96 both ran even, at 256 the GEMM led
// (95 ms against 102), and a 4 MB weight (1024 x 1024) ran even at 96 and 5% slower at 256.
constexpr int64_t kStreamMaxForwardBatch = 128;
constexpr int64_t kStreamMinForwardWeight = int64_t(1) << 21;

// Whether linearForward takes linearStreamForward for this shape (N, in, out > 0): the batch is
// past the dot products' kStreamMinForwardBatch, the ISA level avx512, and the batch at most
// kStreamMaxBatch, or at most kStreamMaxForwardBatch with a weight of kStreamMinForwardWeight.
bool linearStreamForwardApplies(int64_t N, int64_t in, int64_t out);

// y [N, out] = x [N, in] * w^T + bias (may be null); N, in and out > 0 (linear.cc takes the
// empty cases). Every y[n][o] sums k in blocks of 384 in order (one fused multiply-add chain
// each), block sums added onto the running total, plus the bias: the same whatever N on this path,
// whatever chunk of the batch the row falls in.
void linearStreamForward(const float* x, const float* w, const float* bias, float* y, int64_t N, int64_t in,
                         int64_t out);

// dx [N, in] = dy [N, out] * w [out, in]; N, in and out > 0. Every dx[n][i] sums o in blocks of 16
// in order, each block's sum added onto dx, whichever thread computes it, so the result does not
// depend on the thread count.
void linearStreamBackwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out);

}  // namespace ck::cpu
