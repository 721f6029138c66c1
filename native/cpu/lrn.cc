#include "lrn.h"

#include <algorithm>
#include <cmath>

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "isa.h"
#include "lrn_blocks.h"

namespace ck::cpu {

namespace {

// Pixels per task of the wide-window path. A block of pixels walks down the channels together,
// so every inner loop reads one contiguous row of a channel plane (NCHW) instead of striding by
// H*W per channel.
constexpr int64_t kBlock = 512;

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

// out[i] = s[i]^-beta for a row.
void powNegBetaRow(const float* s, int64_t len, float beta, float* out) {
  for (int64_t i = 0; i < len; i++) out[i] = powNegBeta(s[i], beta);
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
// A run walks down the channels of one image's pixel range (lrn_blocks.h): each channel's
// squares (forward) or ratios (backward) enter a ring as the window's leading edge reaches them,
// and every channel adds up its window from the ring: size adds per element instead of the
// running sum's two double-precision updates, with no drift to guard against. The AVX-512 build
// of these loops (lrn_avx512.cc) serves beta = 0.75; the loops here serve everything else.
constexpr int64_t kDirectMax = 16;
static_assert(kDirectMax <= lrnblk::kRing, "the ring must hold a whole window");
using lrnblk::kRing;
using lrnblk::kRun;
using lrnblk::ringStride;

inline float* ringRow(float* ws, int64_t stride, int64_t c) { return ws + (c & (kRing - 1)) * stride; }

// out[i] = sum of the ring rows of channels [from, to] at column i, added in channel order.
void windowSumRows(float* ws, int64_t stride, int64_t from, int64_t to, int64_t len, float* out) {
  for (int64_t i = 0; i < len; i++) out[i] = 0.f;
  for (int64_t c = from; c <= to; c++) {
    const float* row = ringRow(ws, stride, c);
    for (int64_t i = 0; i < len; i++) out[i] += row[i];
  }
}

// The squares of a run's channels in a ring, and a channel's scale from them: the forward's and,
// where no scale was kept, the backward's, the same operations in the same order.
struct SquaresPortable {
  const float* x;
  const lrnblk::Run& r;
  float* ring;
  int64_t stride, next;  // next: the first channel whose squares are not in the ring yet

  void fillTo(int64_t to) {
    for (; next <= to; next++) {
      float* row = ringRow(ring, stride, next);
      const float* xn = x + next * r.hw;
      for (int64_t i = 0; i < r.len; i++) row[i] = xn[i] * xn[i];
    }
  }
  int64_t to(int64_t c) const { return std::min(r.C - 1, c + r.hi); }
  // out = the scale of channel c (its window's squares must be in the ring).
  void scaleRow(int64_t c, const LrnParams& p, float* out) {
    windowSumRows(ring, stride, std::max<int64_t>(0, c - r.lo), to(c), r.len, out);
    for (int64_t i = 0; i < r.len; i++) out[i] = p.k + p.alphaEff * out[i];
  }
};

void forwardRunPortable(const float* x, const lrnblk::Run& r, const LrnParams& p, float* y, float* scale, float* ws) {
  SquaresPortable sq{x, r, ws, ringStride(r.len), std::max<int64_t>(0, r.c0 - r.lo)};
  float sc[kRun], pw[kRun];
  for (int64_t c = r.c0; c < r.c1; c++) {
    sq.fillTo(sq.to(c));
    sq.scaleRow(c, p, sc);
    const int64_t o = c * r.hw;
    if (scale)
      for (int64_t i = 0; i < r.len; i++) scale[o + i] = sc[i];
    powNegBetaRow(sc, r.len, p.beta, pw);
    for (int64_t i = 0; i < r.len; i++) y[o + i] = x[o + i] * pw[i];
  }
}

// scale null: recomputed from x (rings of squares and scales after the ratios', as the AVX-512
// build does).
void backwardRunPortable(const float* dy, const float* x, const float* y, const float* scale, const lrnblk::Run& r,
                         const LrnParams& p, float coef, float* dx, float* ws) {
  const int64_t stride = ringStride(r.len), ringFloats = kRing * stride;
  float* scales = scale ? nullptr : ws + ringFloats;  // with a kept scale ws holds one ring
  SquaresPortable sq{x, r, scale ? nullptr : ws + 2 * ringFloats, stride, std::max<int64_t>(0, r.c0 - r.hi - r.lo)};
  auto scaleRow = [&](int64_t c) -> const float* { return scale ? scale + c * r.hw : ringRow(scales, stride, c); };
  float acc[kRun], pw[kRun];
  int64_t next = std::max<int64_t>(0, r.c0 - r.hi);
  for (int64_t j = r.c0; j < r.c1; j++) {
    // Channel j receives from every c whose window holds j: c in [j - hi, j + lo].
    const int64_t from = std::max<int64_t>(0, j - r.hi), to = std::min(r.C - 1, j + r.lo);
    for (; next <= to; next++) {
      if (!scale) {
        sq.fillTo(sq.to(next));
        sq.scaleRow(next, p, ringRow(scales, stride, next));
      }
      const float* sc = scaleRow(next);
      float* row = ringRow(ws, stride, next);
      const int64_t o = next * r.hw;
      // Without a kept scale y is made again as the forward made it (x * scale^-beta, the same
      // bits), so that a network need not keep it either.
      if (scale)
        for (int64_t i = 0; i < r.len; i++) row[i] = dy[o + i] * y[o + i] / sc[i];
      else
        for (int64_t i = 0; i < r.len; i++) row[i] = dy[o + i] * (x[o + i] * powNegBeta(sc[i], p.beta)) / sc[i];
    }
    windowSumRows(ws, stride, from, to, r.len, acc);
    const int64_t o = j * r.hw;
    powNegBetaRow(scaleRow(j), r.len, p.beta, pw);
    for (int64_t i = 0; i < r.len; i++) {
      const float d = dy[o + i] * pw[i] - coef * x[o + i] * acc[i];
      dx[o + i] = p.reluInput && !(x[o + i] > 0.f) ? 0.f : d;
    }
  }
}

bool useAvx512(const LrnParams& p) { return p.beta == 0.75f && activeAvx512(); }

// Runs fn(base, run, ws) over every image's pixel runs (at most kRun pixels) and channel ranges,
// across the pool. Channels are split only when there are too few runs to keep every thread
// busy (batch 1 at inference): each piece then recomputes its window's lo + hi edge rows.
// rings: how many rings of ringFloats(len) each piece's workspace holds.
template <typename Fn>
void forEachRun(const LrnGeom& g, const LrnParams& p, int64_t rings, Fn fn) {
  const int64_t hw = g.H * g.W, C = g.C;
  const int64_t runs = (hw + kRun - 1) / kRun, len = std::min(hw, kRun);
  const int64_t wanted = 4 * std::max<int64_t>(1, threadPool().size());
  const int64_t minPiece = 8;  // channels per piece: well above a window's edge of 2-15 rows
  const int64_t pieces =
      std::max<int64_t>(1, std::min((wanted + g.N * runs - 1) / (g.N * runs), (C + minPiece - 1) / minPiece));
  const int64_t per = (C + pieces - 1) / pieces;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, per * len));
  parallelRange(g.N * runs * pieces, grain, [&](int64_t b, int64_t e) {
    Scratch ws(size_t(rings * lrnblk::ringFloats(len)) * sizeof(float));
    for (int64_t t = b; t < e; t++) {
      const int64_t piece = t % pieces, ri = (t / pieces) % runs, n = t / (pieces * runs);
      const int64_t p0 = ri * kRun;
      const lrnblk::Run r{
          C, hw, std::min(kRun, hw - p0), p.size / 2, (p.size - 1) / 2, piece * per, std::min(C, (piece + 1) * per)};
      if (r.c0 < r.c1) fn(n * C * hw + p0, r, ws.as<float>());
    }
  });
}

void lrnForwardDirect(const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale) {
  const bool avx = useAvx512(p);
  forEachRun(g, p, 1, [&](int64_t base, const lrnblk::Run& r, float* ws) {
    float* sc = scale ? scale + base : nullptr;
    if (avx) lrnblk::forwardAvx512(x + base, r, p.k, p.alphaEff, y + base, sc, ws);
    else forwardRunPortable(x + base, r, p, y + base, sc, ws);
  });
}

void lrnBackwardDirect(const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                       const LrnParams& p, float* dx) {
  const float coef = 2.f * p.beta * p.alphaEff;
  const bool avx = useAvx512(p);
  forEachRun(g, p, scale ? 1 : 3, [&](int64_t base, const lrnblk::Run& r, float* ws) {
    const float* sc = scale ? scale + base : nullptr;
    const float* yr = scale ? y + base : nullptr;  // read only with a kept scale (lrn.h)
    if (avx) lrnblk::backwardAvx512(dy + base, x + base, yr, sc, r, p.k, p.alphaEff, coef, p.reluInput, dx + base, ws);
    else backwardRunPortable(dy + base, x + base, yr, sc, r, p, coef, dx + base, ws);
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
      float* sc = scale ? scale + base + c * hw : nullptr;
      for (int64_t i = 0; i < len; i++) {
        // Rounding can leave a tiny negative sum where the true one is 0; pow would give NaN.
        float s = p.k + p.alphaEff * float(std::max(acc[i], 0.0));
        if (sc) sc[i] = s;
        yc[i] = xc[i] * powNegBeta(s, p.beta);
      }
    }
  });
}

void lrnBackward(const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                 const LrnParams& p, float* dx) {
  if (p.size <= kDirectMax) return lrnBackwardDirect(dy, x, y, scale, g, p, dx);
  if (!scale) {
    // Wide windows without a kept scale (rare): the forward again, into scratch, for the scale.
    const size_t bytes = size_t(g.N * g.C * g.H * g.W) * sizeof(float);
    Scratch sc(bytes), yAgain(bytes);
    lrnForward(x, g, p, yAgain.as<float>(), sc.as<float>());
    return lrnBackward(dy, x, yAgain.as<float>(), sc.as<float>(), g, p, dx);
  }
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
      for (int64_t i = 0; i < len; i++) {
        const float d = dy[o + i] * powNegBeta(scale[o + i], p.beta) - coef * x[o + i] * float(acc[i]);
        dx[o + i] = p.reluInput && !(x[o + i] > 0.f) ? 0.f : d;
      }
    }
  });
}

const char* lrnPathName() { return activeAvx512() ? "avx512" : "portable"; }

}  // namespace ck::cpu
