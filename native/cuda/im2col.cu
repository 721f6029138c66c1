// One thread per column element (im2col) or per input element (col2im). col2im gathers instead
// of scattering: no atomics, a fixed summation order, the same result on every run.
#include "cuda_check.h"
#include "im2col.h"
#include "launch.h"

namespace ck::cuda {

namespace {

// The geometry by value (a kernel argument lives in constant memory).
struct Geom {
  int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
};

Geom geomOf(const Conv2dGeom& g) {
  return Geom{g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.OH, g.OW};
}

// Element e of the block, in (image, row, column) order.
__global__ void im2col_kernel(const float* x, Geom g, ColumnBlock b, float* cols) {
  const int64_t P = g.OH * g.OW, R = b.channels * g.KH * g.KW;
  CK_GRID_STRIDE(e, b.images * R * P) {
    int64_t p = e % P, r = (e / P) % R, i = e / (P * R);
    int64_t kw = r % g.KW, kh = (r / g.KW) % g.KH, c = b.c0 + r / (g.KW * g.KH);
    int64_t oh = p / g.OW, ow = p % g.OW;
    int64_t h = oh * g.SH - g.PH + kh * g.DH, w = ow * g.SW - g.PW + kw * g.DW;
    float v = 0.f;
    if (h >= 0 && h < g.H && w >= 0 && w < g.W) v = x[(((b.n0 + i) * g.C + c) * g.H + h) * g.W + w];
    cols[r * b.rowStride + i * b.imageStride + p] = v;
  }
}

// Element e of the block's input region, in (image, channel, h, w) order.
__global__ void col2im_kernel(const float* cols, Geom g, ColumnBlock b, float* x) {
  CK_GRID_STRIDE(e, b.images * b.channels * g.H * g.W) {
    int64_t w = e % g.W, h = (e / g.W) % g.H, cl = (e / (g.W * g.H)) % b.channels, i = e / (g.W * g.H * b.channels);
    float* dst = x + (((b.n0 + i) * g.C + b.c0 + cl) * g.H + h) * g.W + w;
    float acc = *dst;
    for (int64_t kh = 0; kh < g.KH; kh++) {
      int64_t th = h + g.PH - kh * g.DH;  // = oh * SH
      if (th < 0 || th % g.SH != 0 || th / g.SH >= g.OH) continue;
      int64_t oh = th / g.SH;
      for (int64_t kw = 0; kw < g.KW; kw++) {
        int64_t tw = w + g.PW - kw * g.DW;
        if (tw < 0 || tw % g.SW != 0 || tw / g.SW >= g.OW) continue;
        int64_t r = (cl * g.KH + kh) * g.KW + kw;
        acc += cols[r * b.rowStride + i * b.imageStride + oh * g.OW + tw / g.SW];
      }
    }
    *dst = acc;
  }
}

}  // namespace

void im2colBlock(Ctx& ctx, const float* x, const Conv2dGeom& g, const ColumnBlock& b, float* cols) {
  int64_t n = b.images * b.channels * g.KH * g.KW * g.OH * g.OW;
  if (n == 0) return;
  ctx.makeCurrent();
  im2col_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, geomOf(g), b, cols);
  checkLaunch("im2col");
}

void col2imBlock(Ctx& ctx, const float* cols, const Conv2dGeom& g, const ColumnBlock& b, float* x) {
  int64_t n = b.images * b.channels * g.H * g.W;
  if (n == 0) return;
  ctx.makeCurrent();
  col2im_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(cols, geomOf(g), b, x);
  checkLaunch("col2im");
}

void im2col(Ctx& ctx, const float* x, const Conv2dGeom& g, float* cols) {
  int64_t rows = g.C * g.KH * g.KW;
  im2colBlock(ctx, x, g, ColumnBlock{0, g.N, 0, g.C, g.OH * g.OW, rows * g.OH * g.OW}, cols);
}

void col2im(Ctx& ctx, const float* cols, const Conv2dGeom& g, float* x) {
  int64_t rows = g.C * g.KH * g.KW;
  col2imBlock(ctx, cols, g, ColumnBlock{0, g.N, 0, g.C, g.OH * g.OW, rows * g.OH * g.OW}, x);
}

}  // namespace ck::cuda
