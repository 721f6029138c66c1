#include "pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../core/errors.h"
#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "isa.h"
#include "pool_avx512.h"

namespace ck::cpu {

namespace {

// One window's extent along one axis: [lo, hi) inside the input, and `padded`, its length
// clipped to the padded input only (PyTorch's count_include_pad divisor in ceil mode).
struct Span {
  int64_t lo, hi, padded;
};

inline Span span(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  int64_t start = o * stride - pad;
  int64_t end = std::min(start + k, in + pad);
  return {std::max<int64_t>(start, 0), std::min(end, in), end - start};
}

// Planes are independent, so the (n, c) planes are split across the pool; the grain keeps each
// piece at a few thousand window reads so that tiny planes are not one task each.
template <typename Fn>
void forEachPlane(const Pool2dGeom& g, Fn fn) {
  int64_t perPlane = std::max<int64_t>(1, g.OH * g.OW * g.KH * g.KW + g.H * g.W);
  int64_t grain = std::max<int64_t>(1, 32768 / perPlane);
  parallelRange(g.N * g.C, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) fn(p);
  });
}

enum class Divisor { One, Padded, Valid };

template <Divisor D>
void windowSumForward(const float* x, const Pool2dGeom& g, float* y) {
  forEachPlane(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* yp = y + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      Span sh = span(oh, g.SH, g.PH, g.KH, g.H);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        Span sw = span(ow, g.SW, g.PW, g.KW, g.W);
        float s = 0.f;
        for (int64_t h = sh.lo; h < sh.hi; h++)
          for (int64_t w = sw.lo; w < sw.hi; w++) s += xp[h * g.W + w];
        if (D == Divisor::Padded) s /= float(sh.padded * sw.padded);
        if (D == Divisor::Valid) {
          int64_t n = (sh.hi - sh.lo) * (sw.hi - sw.lo);
          s = n > 0 ? s / float(n) : 0.f;
        }
        yp[oh * g.OW + ow] = s;
      }
    }
  });
}

template <Divisor D>
void windowSumBackward(const float* dy, const Pool2dGeom& g, float* dx) {
  forEachPlane(g, [&](int64_t p) {
    const float* dyp = dy + p * g.OH * g.OW;
    float* dxp = dx + p * g.H * g.W;
    std::fill(dxp, dxp + g.H * g.W, 0.f);
    for (int64_t oh = 0; oh < g.OH; oh++) {
      Span sh = span(oh, g.SH, g.PH, g.KH, g.H);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        Span sw = span(ow, g.SW, g.PW, g.KW, g.W);
        float d = dyp[oh * g.OW + ow];
        if (D == Divisor::Padded) d /= float(sh.padded * sw.padded);
        if (D == Divisor::Valid) {
          int64_t n = (sh.hi - sh.lo) * (sw.hi - sw.lo);
          d = n > 0 ? d / float(n) : 0.f;
        }
        for (int64_t h = sh.lo; h < sh.hi; h++)
          for (int64_t w = sw.lo; w < sw.hi; w++) dxp[h * g.W + w] += d;
      }
    }
  });
}

// One step of PyTorch's max rule (a NaN wins, and a later NaN replaces it).
inline void maxStep(float v, int32_t i, float& best, int32_t& at) {
  const bool take = (v > best) | (v != v);
  best = take ? v : best;
  at = take ? i : at;
}

// Four windows at a time in 16-byte vectors (GCC/Clang vector extensions: SSE2 on any x86-64,
// NEON on ARM). As selects, because on random data a compare-and-branch mispredicts about half
// the time: written as scalar selects, GCC turned them back into branches.
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v4fu __attribute__((vector_size(16), aligned(4), may_alias));
typedef int32_t v4iu __attribute__((vector_size(16), aligned(4), may_alias));

inline v4f loadv4(const float* p) { return *reinterpret_cast<const v4fu*>(p); }
#if defined(__clang__)
inline v4f evens(v4f a, v4f b) { return __builtin_shufflevector(a, b, 0, 2, 4, 6); }
inline v4f odds(v4f a, v4f b) { return __builtin_shufflevector(a, b, 1, 3, 5, 7); }
#else
inline v4f evens(v4f a, v4f b) { return __builtin_shuffle(a, b, v4i{0, 2, 4, 6}); }
inline v4f odds(v4f a, v4f b) { return __builtin_shuffle(a, b, v4i{1, 3, 5, 7}); }
#endif

inline void maxStep4(v4f v, v4i i, v4f& best, v4i& at) {
  const v4i take = (v > best) | (v != v);
  best = take ? v : best;
  at = take ? i : at;
}

// 2x2 windows at stride 2 that all lie inside the input (LeNet's and most CNNs' pooling): the
// general loop spends most of its time clipping windows, this one reads two rows per output row.
bool isTiled2x2(const Pool2dGeom& g) {
  return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && 2 * g.OH <= g.H &&
         2 * g.OW <= g.W;
}

void maxPool2x2Forward(const float* x, const Pool2dGeom& g, float* y, int32_t* argmax) {
  forEachPlane(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* yp = y + p * g.OH * g.OW;
    int32_t* ap = argmax + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const float* r0 = xp + 2 * oh * g.W;
      const float* r1 = r0 + g.W;
      const int32_t i0 = int32_t(2 * oh * g.W), i1 = int32_t(i0 + g.W);
      int64_t ow = 0;
      for (; ow + 4 <= g.OW; ow += 4) {
        const int32_t c = int32_t(2 * ow);
        const v4f a0 = loadv4(r0 + c), b0 = loadv4(r0 + c + 4), a1 = loadv4(r1 + c), b1 = loadv4(r1 + c + 4);
        const v4i col = v4i{0, 2, 4, 6} + c;
        // Starting from the window's first element is the same as starting from -inf.
        v4f best = evens(a0, b0);
        v4i at = col + i0;
        maxStep4(odds(a0, b0), col + (i0 + 1), best, at);
        maxStep4(evens(a1, b1), col + i1, best, at);
        maxStep4(odds(a1, b1), col + (i1 + 1), best, at);
        *reinterpret_cast<v4fu*>(yp + oh * g.OW + ow) = best;
        *reinterpret_cast<v4iu*>(ap + oh * g.OW + ow) = at;
      }
      for (; ow < g.OW; ow++) {
        const int32_t c = int32_t(2 * ow);
        float best = r0[c];
        int32_t at = i0 + c;
        maxStep(r0[c + 1], i0 + c + 1, best, at);
        maxStep(r1[c], i1 + c, best, at);
        maxStep(r1[c + 1], i1 + c + 1, best, at);
        yp[oh * g.OW + ow] = best;
        ap[oh * g.OW + ow] = at;
      }
    }
  });
}

// Windows that all lie inside the input (no padding, none clipped at the far edge): AlexNet's
// overlapping 3x3/2 pooling and most others. The general loop below clips every window and
// carries one compare-select chain at a time; here four outputs of a row share each step as
// one vector, and two groups of four run side by side so their chains overlap. The steps visit
// the window in row-major order, so ties and NaNs resolve exactly as in the general loop.
bool allWindowsInside(const Pool2dGeom& g) {
  return g.PH == 0 && g.PW == 0 && (g.OH - 1) * g.SH + g.KH <= g.H && (g.OW - 1) * g.SW + g.KW <= g.W;
}

// Four inputs s apart starting at p. S is the stride when it is 1 or 2 (a plain or an
// even-lane load), else 0 and s is read at run time.
template <int S>
inline v4f gather4(const float* p, int64_t s) {
  if constexpr (S == 1) return loadv4(p);
  else if constexpr (S == 2) return evens(loadv4(p), loadv4(p + 4));
  else return v4f{p[0], p[s], p[2 * s], p[3 * s]};
}

// How far past its first element gather4 reads.
template <int S>
inline int64_t gatherReach(int64_t s) {
  return S == 1 ? 3 : S == 2 ? 7 : 3 * s;
}

template <int S>
void maxPoolInsideForward(const float* x, const Pool2dGeom& g, float* y, int32_t* argmax) {
  const int64_t sw = g.SW;
  const v4i lane = v4i{0, 1, 2, 3} * int32_t(sw);
  // Groups of four outputs whose reads all stay inside their row.
  const int64_t reach = (g.KW - 1) + gatherReach<S>(sw);
  int64_t vecOW = 0;
  while (vecOW + 4 <= g.OW && vecOW * sw + reach < g.W) vecOW += 4;
  forEachPlane(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* yp = y + p * g.OH * g.OW;
    int32_t* ap = argmax + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const int64_t h0 = oh * g.SH;
      float* yr = yp + oh * g.OW;
      int32_t* ar = ap + oh * g.OW;
      int64_t ow = 0;
      for (; ow + 8 <= vecOW; ow += 8) {
        const int64_t c0 = ow * sw, c1 = c0 + 4 * sw;
        v4f b0 = gather4<S>(xp + h0 * g.W + c0, sw), b1 = gather4<S>(xp + h0 * g.W + c1, sw);
        v4i a0 = lane + int32_t(h0 * g.W + c0), a1 = lane + int32_t(h0 * g.W + c1);
        for (int64_t kh = 0; kh < g.KH; kh++)
          for (int64_t kw = kh == 0 ? 1 : 0; kw < g.KW; kw++) {
            const int64_t at = (h0 + kh) * g.W + kw;
            maxStep4(gather4<S>(xp + at + c0, sw), lane + int32_t(at + c0), b0, a0);
            maxStep4(gather4<S>(xp + at + c1, sw), lane + int32_t(at + c1), b1, a1);
          }
        *reinterpret_cast<v4fu*>(yr + ow) = b0;
        *reinterpret_cast<v4fu*>(yr + ow + 4) = b1;
        *reinterpret_cast<v4iu*>(ar + ow) = a0;
        *reinterpret_cast<v4iu*>(ar + ow + 4) = a1;
      }
      for (; ow + 4 <= vecOW; ow += 4) {
        const int64_t c0 = ow * sw;
        v4f b0 = gather4<S>(xp + h0 * g.W + c0, sw);
        v4i a0 = lane + int32_t(h0 * g.W + c0);
        for (int64_t kh = 0; kh < g.KH; kh++)
          for (int64_t kw = kh == 0 ? 1 : 0; kw < g.KW; kw++) {
            const int64_t at = (h0 + kh) * g.W + kw;
            maxStep4(gather4<S>(xp + at + c0, sw), lane + int32_t(at + c0), b0, a0);
          }
        *reinterpret_cast<v4fu*>(yr + ow) = b0;
        *reinterpret_cast<v4iu*>(ar + ow) = a0;
      }
      for (; ow < g.OW; ow++) {
        const int64_t first = h0 * g.W + ow * sw;
        float best = xp[first];
        int32_t at = int32_t(first);
        for (int64_t kh = 0; kh < g.KH; kh++)
          for (int64_t kw = kh == 0 ? 1 : 0; kw < g.KW; kw++) {
            const int64_t i = first + kh * g.W + kw;
            maxStep(xp[i], int32_t(i), best, at);
          }
        yr[ow] = best;
        ar[ow] = at;
      }
    }
  });
}

// Whether every argmax of a plane lies inside its own 2x2 window.
bool tiledArgmaxValid(const int32_t* ap, const Pool2dGeom& g) {
  for (int64_t oh = 0; oh < g.OH; oh++)
    for (int64_t ow = 0; ow < g.OW; ow++) {
      const int64_t at = ap[oh * g.OW + ow], h = at / g.W - 2 * oh, w = at % g.W - 2 * ow;
      if (at < 0 || h < 0 || h > 1 || w < 0 || w > 1) return false;
    }
  return true;
}

void maxPool2x2Backward(const float* dyp, const int32_t* ap, const Pool2dGeom& g, float* dxp) {
  for (int64_t oh = 0; oh < g.OH; oh++) {
    float* r0 = dxp + 2 * oh * g.W;
    float* r1 = r0 + g.W;
    const int32_t i0 = int32_t(2 * oh * g.W), i1 = int32_t(i0 + g.W);
    for (int64_t ow = 0; ow < g.OW; ow++) {
      const int32_t c = int32_t(2 * ow), at = ap[oh * g.OW + ow];
      const float d = dyp[oh * g.OW + ow];
      r0[c] = at == i0 + c ? d : 0.f;
      r0[c + 1] = at == i0 + c + 1 ? d : 0.f;
      r1[c] = at == i1 + c ? d : 0.f;
      r1[c + 1] = at == i1 + c + 1 ? d : 0.f;
    }
  }
  // Rows and columns no window covers (odd sizes) get no gradient.
  for (int64_t h = 0; h < g.H; h++) {
    float* row = dxp + h * g.W;
    if (h >= 2 * g.OH) std::fill(row, row + g.W, 0.f);
    else std::fill(row + 2 * g.OW, row + g.W, 0.f);
  }
}

}  // namespace

void maxPool2dForward(const float* x, const Pool2dGeom& g, float* y, int32_t* argmax) {
  if (!argmax) {
    if (isTiled2x2(g) && activeAvx512()) {
      forEachPlane(g, [&](int64_t p) { poolavx::maxTiled2x2Values(x, g, p, p + 1, y); });
      return;
    }
    if (allWindowsInside(g) && activeAvx512()) {
      forEachPlane(g, [&](int64_t p) { poolavx::maxInside(x, g, p, p + 1, y, nullptr); });
      return;
    }
    // No values-only kernel for this shape or CPU: the positions go to a buffer thrown away,
    // drawn from the caching allocator (reused pages, not a fresh map per call).
    Scratch scratch(size_t(g.N * g.C * g.OH * g.OW) * sizeof(int32_t));
    return maxPool2dForward(x, g, y, scratch.as<int32_t>());
  }
  if (isTiled2x2(g)) return maxPool2x2Forward(x, g, y, argmax);
  if (allWindowsInside(g)) {
    // 32-bit gather indices within a plane, like the int32 argmax itself.
    if (activeAvx512()) {
      forEachPlane(g, [&](int64_t p) { poolavx::maxInside(x, g, p, p + 1, y, argmax); });
      return;
    }
    if (g.SW == 1) return maxPoolInsideForward<1>(x, g, y, argmax);
    if (g.SW == 2) return maxPoolInsideForward<2>(x, g, y, argmax);
    return maxPoolInsideForward<0>(x, g, y, argmax);
  }
  forEachPlane(g, [&](int64_t p) {
    const float* xp = x + p * g.H * g.W;
    float* yp = y + p * g.OH * g.OW;
    int32_t* ap = argmax + p * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      Span sh = span(oh, g.SH, g.PH, g.KH, g.H);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        Span sw = span(ow, g.SW, g.PW, g.KW, g.W);
        float best = -std::numeric_limits<float>::infinity();
        int64_t at = sh.lo * g.W + sw.lo;
        for (int64_t h = sh.lo; h < sh.hi; h++)
          for (int64_t w = sw.lo; w < sw.hi; w++) {
            // PyTorch's rule (a NaN propagates), written as selects: on random data a branch
            // here mispredicts about half the time and made this kernel 3x slower.
            float v = xp[h * g.W + w];
            bool take = (v > best) | std::isnan(v);
            best = take ? v : best;
            at = take ? h * g.W + w : at;
          }
        yp[oh * g.OW + ow] = best;
        ap[oh * g.OW + ow] = int32_t(at);
      }
    }
  });
}

void maxPool2dBackward(const float* dy, const int32_t* argmax, const Pool2dGeom& g, float* dx) {
  const int64_t plane = g.H * g.W;
  const bool tiled = isTiled2x2(g);
  forEachPlane(g, [&](int64_t p) {
    const float* dyp = dy + p * g.OH * g.OW;
    const int32_t* ap = argmax + p * g.OH * g.OW;
    float* dxp = dx + p * plane;
    // Non-overlapping 2x2 windows whose argmax lies inside them (always, when it comes from the
    // forward): each window's four cells are written once, with no separate zero fill.
    if (tiled && tiledArgmaxValid(ap, g)) return maxPool2x2Backward(dyp, ap, g, dxp);
    std::fill(dxp, dxp + plane, 0.f);
    for (int64_t o = 0; o < g.OH * g.OW; o++) {
      int64_t at = ap[o];
      // argmax arrives as a user tensor: an index out of the plane would write out of bounds.
      if (at < 0 || at >= plane)
        throw Error(Code::Arg, "argmax holds " + std::to_string(at) + ", outside the input plane of " +
                                   std::to_string(plane) + " elements");
      dxp[at] += dyp[o];
    }
  });
}

void avgPool2dForward(const float* x, const Pool2dGeom& g, bool countIncludePad, float* y) {
  if (countIncludePad) windowSumForward<Divisor::Padded>(x, g, y);
  else windowSumForward<Divisor::Valid>(x, g, y);
}

void avgPool2dBackward(const float* dy, const Pool2dGeom& g, bool countIncludePad, float* dx) {
  if (countIncludePad) windowSumBackward<Divisor::Padded>(dy, g, dx);
  else windowSumBackward<Divisor::Valid>(dy, g, dx);
}

void sumPool2dForward(const float* x, const Pool2dGeom& g, float* y) { windowSumForward<Divisor::One>(x, g, y); }

void sumPool2dBackward(const float* dy, const Pool2dGeom& g, float* dx) { windowSumBackward<Divisor::One>(dy, g, dx); }

const char* maxPoolPathName() { return activeAvx512() ? "avx512" : "portable"; }

}  // namespace ck::cpu
