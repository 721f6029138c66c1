#include "pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../core/errors.h"
#include "../core/thread_pool.h"

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

}  // namespace

void maxPool2dForward(const float* x, const Pool2dGeom& g, float* y, int32_t* argmax) {
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
  forEachPlane(g, [&](int64_t p) {
    const float* dyp = dy + p * g.OH * g.OW;
    const int32_t* ap = argmax + p * g.OH * g.OW;
    float* dxp = dx + p * plane;
    std::fill(dxp, dxp + plane, 0.f);
    for (int64_t o = 0; o < g.OH * g.OW; o++) {
      int64_t at = ap[o];
      // argmax arrives as a user tensor: an index out of the plane would write out of bounds.
      if (at < 0 || at >= plane)
        throw Error(Code::Arg, "argmax holds " + std::to_string(at) +
                                   ", outside the input plane of " + std::to_string(plane) + " elements");
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

}  // namespace ck::cpu
