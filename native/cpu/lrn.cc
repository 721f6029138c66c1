#include "lrn.h"

#include <algorithm>
#include <cmath>

#include "../core/scratch.h"
#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {

// Pixels per task. A block of pixels walks down the channels together, so every inner loop reads
// one contiguous row of a channel plane (NCHW) instead of striding by H*W per channel.
constexpr int64_t kBlock = 128;

// s^-beta, with the paper's beta = 0.75 done by square roots (several times faster than pow).
inline float powNegBeta(float s, float beta) {
  if (beta == 0.75f) {
    float r = std::sqrt(s);
    return 1.f / (r * std::sqrt(r));
  }
  return std::pow(s, -beta);
}

// Runs fn(n, p0, len, ws) over blocks of at most kBlock pixels of every image, across the pool;
// ws is a workspace of wsFloats floats, one per piece of work.
template <typename Fn>
void forEachBlock(const LrnGeom& g, int64_t wsFloats, Fn fn) {
  const int64_t hw = g.H * g.W;
  const int64_t blocks = (hw + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.C * std::min(hw, kBlock)));
  parallelRange(g.N * blocks, grain, [&](int64_t b, int64_t e) {
    Scratch ws(size_t(std::max<int64_t>(wsFloats, 1)) * sizeof(float));
    for (int64_t t = b; t < e; t++) {
      int64_t p0 = (t % blocks) * kBlock;
      fn(t / blocks, p0, std::min(kBlock, hw - p0), ws.as<float>());
    }
  });
}

// acc += sign * v^2 (square) or acc += sign * v, over one block row.
inline void accumulate(double* acc, const float* v, int64_t len, double sign, bool square) {
  if (square)
    for (int64_t i = 0; i < len; i++) acc[i] += sign * double(v[i]) * double(v[i]);
  else
    for (int64_t i = 0; i < len; i++) acc[i] += sign * double(v[i]);
}

}  // namespace

void lrnForward(const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale) {
  const int64_t hw = g.H * g.W, C = g.C;
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  forEachBlock(g, 0, [&](int64_t n, int64_t p0, int64_t len, float*) {
    const int64_t base = n * C * hw + p0;
    // The running window sum is kept in double: adding and later subtracting the same squares
    // in float would leave a drift of order C * eps * max(x^2) behind.
    double acc[kBlock] = {};
    for (int64_t c = 0; c < std::min(hi, C); c++) accumulate(acc, x + base + c * hw, len, 1.0, true);
    for (int64_t c = 0; c < C; c++) {
      if (c + hi < C) accumulate(acc, x + base + (c + hi) * hw, len, 1.0, true);
      if (c - lo - 1 >= 0) accumulate(acc, x + base + (c - lo - 1) * hw, len, -1.0, true);
      const float* xc = x + base + c * hw;
      float* yc = y + base + c * hw;
      float* sc = scale + base + c * hw;
      for (int64_t i = 0; i < len; i++) {
        // Rounding can leave a tiny negative sum where the true one is 0; pow would give NaN.
        float s = p.k + p.alphaEff * float(std::max(acc[i], 0.0));
        sc[i] = s;
        yc[i] = xc[i] * powNegBeta(s, p.beta);
      }
    }
  });
}

void lrnBackward(const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                 const LrnParams& p, float* dx) {
  const int64_t hw = g.H * g.W, C = g.C;
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  const float coef = 2.f * p.beta * p.alphaEff;
  // ratio_c = dy_c * y_c / scale_c for a whole block, computed once and read twice (when it
  // enters and when it leaves the window).
  forEachBlock(g, C * kBlock, [&](int64_t n, int64_t p0, int64_t len, float* ratio) {
    const int64_t base = n * C * hw + p0;
    for (int64_t c = 0; c < C; c++) {
      const int64_t o = base + c * hw;
      for (int64_t i = 0; i < len; i++) ratio[c * kBlock + i] = dy[o + i] * y[o + i] / scale[o + i];
    }
    // Channel j receives from every c whose window holds j: c in [j - hi, j + lo].
    double acc[kBlock] = {};
    for (int64_t c = 0; c < std::min(lo, C); c++) accumulate(acc, ratio + c * kBlock, len, 1.0, false);
    for (int64_t j = 0; j < C; j++) {
      if (j + lo < C) accumulate(acc, ratio + (j + lo) * kBlock, len, 1.0, false);
      if (j - hi - 1 >= 0) accumulate(acc, ratio + (j - hi - 1) * kBlock, len, -1.0, false);
      const int64_t o = base + j * hw;
      for (int64_t i = 0; i < len; i++)
        dx[o + i] = dy[o + i] * powNegBeta(scale[o + i], p.beta) - coef * x[o + i] * float(acc[i]);
    }
  });
}

}  // namespace ck::cpu
