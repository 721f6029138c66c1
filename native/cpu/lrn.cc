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


// ---- Windows of at most kDirectMax channels (AlexNet's n = 5): the sums are taken directly ----
//
// Each block first squares its pixels for every channel (into the workspace), then every channel
// adds up its window: size adds per element instead of the running sum's two double-precision
// updates, with no drift to guard against, and every loop a plain elementwise one the compiler
// vectorizes. The loops are cloned for AVX-512 and AVX2 (picked once at load time); they have no
// reductions across lanes and no contractions (ISO C++ mode: -ffp-contract=off), and sqrt and
// division are exact in IEEE arithmetic, so every clone gives the same bits.
constexpr int64_t kDirectMax = 16;

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define CK_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CK_SIMD_CLONES
#endif

// scale^-beta for a row; the paper's 0.75 by square roots (vectorizable, unlike pow).
CK_SIMD_CLONES void powNegBetaRow(const float* s, int64_t len, float beta, float* out) {
  if (beta == 0.75f) {
    for (int64_t i = 0; i < len; i++) {
      float r = __builtin_sqrtf(s[i]);
      out[i] = 1.f / (r * __builtin_sqrtf(r));
    }
  } else {
    for (int64_t i = 0; i < len; i++) out[i] = std::pow(s[i], -beta);
  }
}

// sq[c] = x[c]^2 for the block's pixels of every channel (the workspace rows are kBlock apart).
CK_SIMD_CLONES void squareRows(const float* x, int64_t hw, int64_t C, int64_t len, float* sq) {
  for (int64_t c = 0; c < C; c++) {
    const float* xc = x + c * hw;
    float* q = sq + c * kBlock;
    for (int64_t i = 0; i < len; i++) q[i] = xc[i] * xc[i];
  }
}

// out = sum of rows [from, to] of a workspace.
CK_SIMD_CLONES void sumRows(const float* rows, int64_t from, int64_t to, int64_t len, float* out) {
  for (int64_t i = 0; i < len; i++) out[i] = 0.f;
  for (int64_t c = from; c <= to; c++) {
    const float* q = rows + c * kBlock;
    for (int64_t i = 0; i < len; i++) out[i] += q[i];
  }
}

CK_SIMD_CLONES void scaleAndOutput(const float* sum, const float* xc, int64_t len, const LrnParams& p, float* sc,
                                   float* pw, float* yc) {
  for (int64_t i = 0; i < len; i++) sc[i] = p.k + p.alphaEff * sum[i];
  powNegBetaRow(sc, len, p.beta, pw);
  for (int64_t i = 0; i < len; i++) yc[i] = xc[i] * pw[i];
}

CK_SIMD_CLONES void ratioRows(const float* dy, const float* y, const float* scale, int64_t hw, int64_t C,
                              int64_t len, float* ratio) {
  for (int64_t c = 0; c < C; c++) {
    const int64_t o = c * hw;
    float* r = ratio + c * kBlock;
    for (int64_t i = 0; i < len; i++) r[i] = dy[o + i] * y[o + i] / scale[o + i];
  }
}

CK_SIMD_CLONES void gradRow(const float* dy, const float* x, const float* pw, const float* acc, float coef, int64_t len,
                            float* dx) {
  for (int64_t i = 0; i < len; i++) dx[i] = dy[i] * pw[i] - coef * x[i] * acc[i];
}

void lrnForwardDirect(const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale) {
  const int64_t hw = g.H * g.W, C = g.C;
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  forEachBlock(g, (C + 2) * kBlock, [&](int64_t n, int64_t p0, int64_t len, float* ws) {
    const int64_t base = n * C * hw + p0;
    float* sq = ws;
    float* sum = ws + C * kBlock;
    float* pw = sum + kBlock;
    squareRows(x + base, hw, C, len, sq);
    for (int64_t c = 0; c < C; c++) {
      const int64_t o = base + c * hw;
      sumRows(sq, std::max<int64_t>(0, c - lo), std::min(C - 1, c + hi), len, sum);
      // Squares are >= 0, so the sum is too: no clamp needed before the root.
      scaleAndOutput(sum, x + o, len, p, scale + o, pw, y + o);
    }
  });
}

void lrnBackwardDirect(const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                       const LrnParams& p, float* dx) {
  const int64_t hw = g.H * g.W, C = g.C;
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  const float coef = 2.f * p.beta * p.alphaEff;
  forEachBlock(g, (C + 2) * kBlock, [&](int64_t n, int64_t p0, int64_t len, float* ws) {
    const int64_t base = n * C * hw + p0;
    float* ratio = ws;
    float* acc = ws + C * kBlock;
    float* pw = acc + kBlock;
    ratioRows(dy + base, y + base, scale + base, hw, C, len, ratio);
    for (int64_t j = 0; j < C; j++) {
      const int64_t o = base + j * hw;
      // Channel j receives from every c whose window holds j: c in [j - hi, j + lo].
      sumRows(ratio, std::max<int64_t>(0, j - hi), std::min(C - 1, j + lo), len, acc);
      powNegBetaRow(scale + o, len, p.beta, pw);
      gradRow(dy + o, x + o, pw, acc, coef, len, dx + o);
    }
  });
}

}  // namespace

void lrnForward(const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale) {
  if (p.size <= kDirectMax) return lrnForwardDirect(x, g, p, y, scale);
  // Wide windows: a running sum, in double (see below).
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
  if (p.size <= kDirectMax) return lrnBackwardDirect(dy, x, y, scale, g, p, dx);
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
