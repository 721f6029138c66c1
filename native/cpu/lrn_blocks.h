// The inner loops of lrn.cc's direct-sum path (windows of at most 16 channels, beta = 0.75 on
// the AVX-512 path): one block of at most kBlock pixels of one image, walking down all C channels.
// The AVX-512 build (lrn_avx512.cc) and the portable loops in lrn.cc add the same terms in the
// same order; they differ only in scale^-0.75, exact in lrn.cc and within a few 1e-7 (relative)
// here.
#pragma once
#include <cstdint>

namespace ck::cpu::lrnblk {

// A block reads a segment of every channel plane: 512 pixels make each segment 2 KB, long enough
// for the hardware prefetchers. With 128 (512-byte segments, 96-256 of them per block) the loads
// waited on memory: AlexNet's first LRN at batch 32 took 15.5 ms instead of 6.1.
constexpr int64_t kBlock = 512;
// Workspace rows are this many floats apart: 576 bytes, which is not a divisor of 4 KiB, so a
// row being written and the rows being read do not alias in the L1's 4 KiB address check (with
// 512-byte rows the sums ran several times slower).
constexpr int64_t kRow = kBlock + 16;

struct Block {
  int64_t C, hw, len;  // channels, plane stride, pixels in this block (<= kBlock)
  int64_t lo, hi;      // window: channels c - lo .. c + hi
};

// y, scale = the forward at one block; ws holds C * kRow floats.
void forwardAvx512(const float* x, const Block& b, float k, float alphaEff, float* y, float* scale, float* ws);
// dx at one block; coef = 2 * beta * alphaEff; ws holds C * kRow floats.
void backwardAvx512(const float* dy, const float* x, const float* y, const float* scale, const Block& b, float coef,
                    float* dx, float* ws);

}  // namespace ck::cpu::lrnblk
