//   x [N, C, H, W]  =>  y [N, C, OH, OW], one thread per output (forward) or input (backward).
#include "cuda_check.h"
#include "launch.h"
#include "pool.h"

namespace ck::cuda {

namespace {

struct Geom {
  int64_t H, W, KH, KW, SH, SW, PH, PW, OH, OW;
};

Geom geomOf(const Pool2dGeom& g) { return Geom{g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW}; }

// The CPU's Span: [lo, hi) inside the input, and the length clipped to the padded input only.
struct Span {
  int64_t lo, hi, padded;
};

__device__ Span span(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  int64_t start = o * stride - pad;
  int64_t end = min(start + k, in + pad);
  return Span{max(start, int64_t(0)), min(end, in), end - start};
}

enum Divisor { kOne = 0, kPadded = 1, kValid = 2 };

__device__ float divide(float s, Span sh, Span sw, int mode) {
  if (mode == kPadded) return s / float(sh.padded * sw.padded);
  if (mode == kValid) {
    int64_t n = (sh.hi - sh.lo) * (sw.hi - sw.lo);
    return n > 0 ? s / float(n) : 0.f;
  }
  return s;
}

__global__ void max_forward_kernel(const float* x, Geom g, int64_t planes, float* y, int32_t* argmax) {
  CK_GRID_STRIDE(e, planes * g.OH * g.OW) {
    int64_t ow = e % g.OW, oh = (e / g.OW) % g.OH, p = e / (g.OW * g.OH);
    const float* xp = x + p * g.H * g.W;
    Span sh = span(oh, g.SH, g.PH, g.KH, g.H), sw = span(ow, g.SW, g.PW, g.KW, g.W);
    float best = -INFINITY;
    int64_t at = sh.lo * g.W + sw.lo;
    for (int64_t h = sh.lo; h < sh.hi; h++)
      for (int64_t w = sw.lo; w < sw.hi; w++) {
        float v = xp[h * g.W + w];
        if (v > best || isnan(v)) {
          best = v;
          at = h * g.W + w;
        }
      }
    y[e] = best;
    if (argmax) argmax[e] = int32_t(at);  // null: values only (inference)
  }
}

__global__ void argmax_check_kernel(const int32_t* argmax, int64_t n, int64_t plane, int* fault) {
  CK_GRID_STRIDE(e, n) {
    if (argmax[e] < 0 || argmax[e] >= plane) {
      if (atomicCAS(fault, 0, int(KernelFault::ArgmaxOutOfRange)) == 0) fault[1] = int(e);
    }
  }
}

// Input element (p, h, w) collects dy of every window that chose it, in output order.
__global__ void max_backward_kernel(const float* dy, const int32_t* argmax, Geom g, int64_t planes, float* dx) {
  CK_GRID_STRIDE(e, planes * g.H * g.W) {
    int64_t w = e % g.W, h = (e / g.W) % g.H, p = e / (g.W * g.H);
    int32_t self = int32_t(h * g.W + w);
    // Windows covering h: oh*SH - PH <= h <= oh*SH - PH + KH - 1.
    int64_t ohLo = max(int64_t(0), (h + g.PH - g.KH + g.SH) / g.SH);
    if (h + g.PH - g.KH + 1 <= 0) ohLo = 0;
    int64_t ohHi = min(g.OH - 1, (h + g.PH) / g.SH);
    int64_t owLo = max(int64_t(0), (w + g.PW - g.KW + g.SW) / g.SW);
    if (w + g.PW - g.KW + 1 <= 0) owLo = 0;
    int64_t owHi = min(g.OW - 1, (w + g.PW) / g.SW);
    float acc = 0.f;
    const int64_t base = p * g.OH * g.OW;
    for (int64_t oh = ohLo; oh <= ohHi; oh++)
      for (int64_t ow = owLo; ow <= owHi; ow++)
        if (argmax[base + oh * g.OW + ow] == self) acc += dy[base + oh * g.OW + ow];
    dx[e] = acc;
  }
}

__global__ void window_forward_kernel(const float* x, Geom g, int64_t planes, int mode, float* y) {
  CK_GRID_STRIDE(e, planes * g.OH * g.OW) {
    int64_t ow = e % g.OW, oh = (e / g.OW) % g.OH, p = e / (g.OW * g.OH);
    const float* xp = x + p * g.H * g.W;
    Span sh = span(oh, g.SH, g.PH, g.KH, g.H), sw = span(ow, g.SW, g.PW, g.KW, g.W);
    float s = 0.f;
    for (int64_t h = sh.lo; h < sh.hi; h++)
      for (int64_t w = sw.lo; w < sw.hi; w++) s += xp[h * g.W + w];
    y[e] = divide(s, sh, sw, mode);
  }
}

__global__ void window_backward_kernel(const float* dy, Geom g, int64_t planes, int mode, float* dx) {
  CK_GRID_STRIDE(e, planes * g.H * g.W) {
    int64_t w = e % g.W, h = (e / g.W) % g.H, p = e / (g.W * g.H);
    float acc = 0.f;
    const int64_t base = p * g.OH * g.OW;
    // Every window whose in-input span contains (h, w); the bounds test is the forward's own.
    int64_t ohHi = min(g.OH - 1, (h + g.PH) / g.SH), owHi = min(g.OW - 1, (w + g.PW) / g.SW);
    for (int64_t oh = 0; oh <= ohHi; oh++) {
      Span sh = span(oh, g.SH, g.PH, g.KH, g.H);
      if (h < sh.lo || h >= sh.hi) continue;
      for (int64_t ow = 0; ow <= owHi; ow++) {
        Span sw = span(ow, g.SW, g.PW, g.KW, g.W);
        if (w < sw.lo || w >= sw.hi) continue;
        acc += divide(dy[base + oh * g.OW + ow], sh, sw, mode);
      }
    }
    dx[e] = acc;
  }
}

void windowForward(Ctx& ctx, const float* x, const Pool2dGeom& g, int mode, float* y, const char* op) {
  int64_t n = g.N * g.C * g.OH * g.OW;
  if (n == 0) return;
  ctx.makeCurrent();
  window_forward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, geomOf(g), g.N * g.C, mode, y);
  checkLaunch(op);
}

void windowBackward(Ctx& ctx, const float* dy, const Pool2dGeom& g, int mode, float* dx, const char* op) {
  int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  ctx.makeCurrent();
  window_backward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(dy, geomOf(g), g.N * g.C, mode, dx);
  checkLaunch(op);
}

}  // namespace

void maxPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, float* y, int32_t* argmax) {
  int64_t n = g.N * g.C * g.OH * g.OW;
  if (n == 0) return;
  ctx.makeCurrent();
  max_forward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, geomOf(g), g.N * g.C, y, argmax);
  checkLaunch("maxPool2d");
}

void maxPool2dBackward(Ctx& ctx, const float* dy, const int32_t* argmax, const Pool2dGeom& g, float* dx) {
  ctx.makeCurrent();
  int64_t outs = g.N * g.C * g.OH * g.OW;
  if (outs > 0) {
    argmax_check_kernel<<<gridFor(outs), kThreads, 0, ctx.stream()>>>(argmax, outs, g.H * g.W, ctx.faultWord());
    checkLaunch("maxPool2dBackward");
  }
  int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  max_backward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(dy, argmax, geomOf(g), g.N * g.C, dx);
  checkLaunch("maxPool2dBackward");
}

void avgPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, bool countIncludePad, float* y) {
  windowForward(ctx, x, g, countIncludePad ? kPadded : kValid, y, "avgPool2d");
}
void avgPool2dBackward(Ctx& ctx, const float* dy, const Pool2dGeom& g, bool countIncludePad, float* dx) {
  windowBackward(ctx, dy, g, countIncludePad ? kPadded : kValid, dx, "avgPool2dBackward");
}
void sumPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, float* y) {
  windowForward(ctx, x, g, kOne, y, "sumPool2d");
}
void sumPool2dBackward(Ctx& ctx, const float* dy, const Pool2dGeom& g, float* dx) {
  windowBackward(ctx, dy, g, kOne, dx, "sumPool2dBackward");
}

}  // namespace ck::cuda
