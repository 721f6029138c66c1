// One thread per (image, pixel) walks the channels with a running window sum in double, as the
// CPU twin does, so both see the same sums; only powf/sqrtf may differ in the last bit.
#include <optional>

#include "cuda_check.h"
#include "device_scratch.h"
#include "launch.h"
#include "lrn.h"

namespace ck::cuda {

namespace {

__device__ float powNegBeta(float s, float beta) {
  if (beta == 0.75f) {
    float r = sqrtf(s);
    return 1.f / (r * sqrtf(r));
  }
  return powf(s, -beta);
}

__global__ void lrn_forward_kernel(const float* x, int64_t N, int64_t C, int64_t HW, LrnParams p, float* y,
                                   float* scale) {
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  CK_GRID_STRIDE(t, N * HW) {
    const int64_t base = (t / HW) * C * HW + t % HW;
    auto sq = [&](int64_t c) {
      double v = x[base + c * HW];
      return v * v;
    };
    double acc = 0;
    for (int64_t c = 0; c < min(hi, C); c++) acc += sq(c);
    for (int64_t c = 0; c < C; c++) {
      if (c + hi < C) acc += sq(c + hi);
      if (c - lo - 1 >= 0) acc -= sq(c - lo - 1);
      float s = p.k + p.alphaEff * float(acc > 0.0 ? acc : 0.0);
      if (scale) scale[base + c * HW] = s;
      y[base + c * HW] = x[base + c * HW] * powNegBeta(s, p.beta);
    }
  }
}

__global__ void lrn_backward_kernel(const float* dy, const float* x, const float* y, const float* scale, int64_t N,
                                    int64_t C, int64_t HW, LrnParams p, float* dx) {
  const int64_t lo = p.size / 2, hi = (p.size - 1) / 2;
  const float coef = 2.f * p.beta * p.alphaEff;
  CK_GRID_STRIDE(t, N * HW) {
    const int64_t base = (t / HW) * C * HW + t % HW;
    auto ratio = [&](int64_t c) {
      int64_t o = base + c * HW;
      return double(dy[o] * y[o] / scale[o]);
    };
    double acc = 0;
    for (int64_t c = 0; c < min(lo, C); c++) acc += ratio(c);
    for (int64_t j = 0; j < C; j++) {
      if (j + lo < C) acc += ratio(j + lo);
      if (j - hi - 1 >= 0) acc -= ratio(j - hi - 1);
      int64_t o = base + j * HW;
      const float d = dy[o] * powNegBeta(scale[o], p.beta) - coef * x[o] * float(acc);
      dx[o] = p.reluInput && !(x[o] > 0.f) ? 0.f : d;  // the ReLU before (LrnParams)
    }
  }
}

}  // namespace

void lrnForward(Ctx& ctx, const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale) {
  int64_t n = g.N * g.H * g.W;
  if (n == 0 || g.C == 0) return;
  ctx.makeCurrent();
  lrn_forward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, g.N, g.C, g.H * g.W, p, y, scale);
  checkLaunch("lrn");
}

void lrnBackward(Ctx& ctx, const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                 const LrnParams& p, float* dx) {
  int64_t n = g.N * g.H * g.W;
  if (n == 0 || g.C == 0) return;
  ctx.makeCurrent();
  std::optional<DeviceScratch> kept;
  if (!scale) {
    // No scale kept: the forward again, into scratch (the CPU twin recomputes it in its loops).
    const size_t bytes = size_t(g.N * g.C * g.H * g.W) * sizeof(float);
    kept.emplace(ctx, 2 * bytes);
    float* sc = kept->as<float>();
    lrn_forward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, g.N, g.C, g.H * g.W, p, sc + bytes / 4, sc);
    checkLaunch("lrnBackward (scale)");
    scale = sc;
    y = sc + bytes / 4;  // the forward's y again, the same bits: the caller's may be null
  }
  lrn_backward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(dy, x, y, scale, g.N, g.C, g.H * g.W, p, dx);
  checkLaunch("lrnBackward");
}

}  // namespace ck::cuda
