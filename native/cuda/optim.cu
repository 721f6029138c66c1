#include "cuda_check.h"
#include "launch.h"
#include "optim.h"

#include <algorithm>

namespace ck::cuda {

namespace {

__global__ void sgd_pytorch_kernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                   float weightDecay, bool nesterov) {
  CK_GRID_STRIDE(i, n) {
    float d = g[i] + weightDecay * w[i];
    if (!v || momentum == 0.f) {
      w[i] -= lr * d;
      continue;
    }
    float vi = momentum * v[i] + d;
    v[i] = vi;
    w[i] -= lr * (nesterov ? d + momentum * vi : vi);
  }
}

__global__ void sgd_paper_kernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float decay) {
  CK_GRID_STRIDE(i, n) {
    if (!v) {
      w[i] += -decay * w[i] - lr * g[i];
      continue;
    }
    float vi = momentum * v[i] - decay * w[i] - lr * g[i];
    v[i] = vi;
    w[i] += vi;
  }
}

// Up to kFlatSegments segments travel by value in the launch's parameters (no table to upload):
// start[s] is where segment s begins in the packed range of all segments, end to end.
constexpr int kFlatSegments = 64;
struct FlatSegments {
  int64_t offset[kFlatSegments];
  int64_t start[kFlatSegments + 1];
  float weightDecay[kFlatSegments];
  int count;
};

__global__ void sgd_flat_kernel(float* w, const float* g, float* v, FlatSegments segs, cpu::SgdRule rule) {
  const int64_t total = segs.start[segs.count];
  CK_GRID_STRIDE(k, total) {
    int lo = 0, hi = segs.count - 1;  // the last segment whose start is <= k
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (segs.start[mid] <= k) lo = mid;
      else hi = mid - 1;
    }
    const int64_t i = segs.offset[lo] + (k - segs.start[lo]);
    const float wd = segs.weightDecay[lo];
    if (rule.paper) {
      const float decay = wd * rule.lr;
      if (!v) {
        w[i] += -decay * w[i] - rule.lr * g[i];
        continue;
      }
      float vi = rule.momentum * v[i] - decay * w[i] - rule.lr * g[i];
      v[i] = vi;
      w[i] += vi;
      continue;
    }
    float d = g[i] + wd * w[i];
    if (!v || rule.momentum == 0.f) {
      w[i] -= rule.lr * d;
      continue;
    }
    float vi = rule.momentum * v[i] + d;
    v[i] = vi;
    w[i] -= rule.lr * (rule.nesterov ? d + rule.momentum * vi : vi);
  }
}

}  // namespace

void sgdStepPytorch(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                    float weightDecay, bool nesterov) {
  if (n == 0) return;
  ctx.makeCurrent();
  sgd_pytorch_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(w, g, v, n, lr, momentum, weightDecay, nesterov);
  checkLaunch("sgdStep");
}

void sgdStepPaper(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                  float weightDecay) {
  if (n == 0) return;
  ctx.makeCurrent();
  sgd_paper_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(w, g, v, n, lr, momentum, weightDecay * lr);
  checkLaunch("sgdStepPaper");
}

void sgdFlat(Ctx& ctx, float* w, const float* g, float* v, const std::vector<cpu::SgdSegment>& segments,
             const cpu::SgdRule& rule) {
  ctx.makeCurrent();
  for (size_t first = 0; first < segments.size(); first += kFlatSegments) {
    FlatSegments segs{};
    segs.count = int(std::min<size_t>(kFlatSegments, segments.size() - first));
    for (int s = 0; s < segs.count; s++) {
      const cpu::SgdSegment& seg = segments[first + size_t(s)];
      segs.offset[s] = seg.offset;
      segs.start[s + 1] = segs.start[s] + seg.size;
      segs.weightDecay[s] = seg.decay ? rule.weightDecay : 0.0f;
    }
    const int64_t total = segs.start[segs.count];
    if (total == 0) continue;
    sgd_flat_kernel<<<gridFor(total), kThreads, 0, ctx.stream()>>>(w, g, v, segs, rule);
    checkLaunch("sgdFlat");
  }
}

}  // namespace ck::cuda
