// The inner loops of lrn.cc's direct-sum path (windows of at most 16 channels, beta = 0.75 on
// the AVX-512 path): one run of at most kRun pixels of one image, walking down a range of its
// channels. The AVX-512 build (lrn_avx512.cc) and the portable loops in lrn.cc add the same terms
// in the same order; they differ only in scale^-0.75, exact in lrn.cc and within a few 1e-7
// (relative) here.
//
// Why runs walk down the channels: a channel's window needs its neighbours' squares (forward) or
// ratios (backward), so a run keeps the last kRing rows of them in a small ring and computes each
// row once, as the window's leading edge reaches it. Reading channel after channel of one run
// reads each operand as one long stream: with a run as long as a whole plane (AlexNet's 55x55 and
// 27x27 are), an image's channels follow one another in memory, and the hardware prefetchers see
// 3 (forward) or 5 (backward) streams. The previous blocks of 512 pixels first read a 2 KB piece
// of every channel (96-256 short streams at once) and ran at 15-20 GB/s on a 50 GB/s machine.
#pragma once
#include <cstdint>

namespace ck::cpu::lrnblk {

// Pixels per run: planes up to 64x64 are one run; the ring (kRing rows of a run) stays in L2.
constexpr int64_t kRun = 4096;
// Rows in the ring: at least the window (at most 16 channels on this path), a power of two.
constexpr int64_t kRing = 16;

// Floats between ring rows: the run rounded up to 16 floats, plus 16 so that the stride in bytes
// is never a multiple of 4 KiB: a row being written and the rows being read must not alias in the
// L1's 4 KiB address check (with 512-byte rows the sums ran several times slower).
constexpr int64_t ringStride(int64_t len) {
  const int64_t s = (len + 15) / 16 * 16 + 16;
  return (s * 4) % 4096 == 0 ? s + 16 : s;
}
// Floats of workspace a run of len pixels needs.
constexpr int64_t ringFloats(int64_t len) { return kRing * ringStride(len); }

struct Run {
  int64_t C, hw, len;  // channels, plane stride, pixels in this run (<= kRun)
  int64_t lo, hi;      // window: channels c - lo .. c + hi (lo + hi < kRing)
  int64_t c0, c1;      // the channels this run writes: [c0, c1)
};

// y (and scale, unless null) of channels [c0, c1) at one run; ws holds ringFloats(len) floats.
void forwardAvx512(const float* x, const Run& r, float k, float alphaEff, float* y, float* scale, float* ws);
// dx of channels [c0, c1) at one run; coef = 2 * beta * alphaEff; reluInput: dx = 0 where x <= 0
// (LrnParams). scale null: recomputed from x with k and alphaEff, bit for bit as the forward did,
// and y is not read (x * scale^-0.75 again, the forward's bits).
// ws holds ringFloats(len) floats with a scale, 3 * ringFloats(len) without.
void backwardAvx512(const float* dy, const float* x, const float* y, const float* scale, const Run& r, float k,
                    float alphaEff, float coef, bool reluInput, float* dx, float* ws);

}  // namespace ck::cpu::lrnblk
