#include "optim.h"

#include <algorithm>

#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {
constexpr int64_t kGrain = 1 << 15;

// The two rules over [lo, hi): shared by the per-tensor steps and the flat one, so that both
// give the same bits.
void pytorchRange(float* w, const float* g, float* v, int64_t lo, int64_t hi, float lr, float momentum,
                  float weightDecay, bool nesterov) {
  if (momentum == 0.0f || !v) {
    for (int64_t i = lo; i < hi; i++) w[i] -= lr * (g[i] + weightDecay * w[i]);
    return;
  }
  for (int64_t i = lo; i < hi; i++) {
    float d = g[i] + weightDecay * w[i];
    float vi = momentum * v[i] + d;
    v[i] = vi;
    w[i] -= lr * (nesterov ? d + momentum * vi : vi);
  }
}

void paperRange(float* w, const float* g, float* v, int64_t lo, int64_t hi, float lr, float momentum, float decay) {
  if (!v) {  // without momentum the velocity is just this step's update
    for (int64_t i = lo; i < hi; i++) w[i] += -decay * w[i] - lr * g[i];
    return;
  }
  for (int64_t i = lo; i < hi; i++) {
    float vi = momentum * v[i] - decay * w[i] - lr * g[i];
    v[i] = vi;
    w[i] += vi;
  }
}
}  // namespace

void sgdStepPytorch(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay,
                    bool nesterov) {
  parallelRange(n, kGrain,
                [=](int64_t lo, int64_t hi) { pytorchRange(w, g, v, lo, hi, lr, momentum, weightDecay, nesterov); });
}

void sgdStepPaper(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay) {
  float decay = weightDecay * lr;
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) { paperRange(w, g, v, lo, hi, lr, momentum, decay); });
}

void sgdFlat(float* w, const float* g, float* v, const std::vector<SgdSegment>& segments, const SgdRule& rule) {
  // The segments laid end to end: the pool splits that packed range, and each piece is mapped
  // back onto the segments it covers (padding between them is never part of it).
  std::vector<int64_t> start(segments.size() + 1, 0);
  for (size_t s = 0; s < segments.size(); s++) start[s + 1] = start[s] + segments[s].size;
  const float paperDecay = rule.weightDecay * rule.lr;
  parallelRange(start.back(), kGrain, [&](int64_t lo, int64_t hi) {
    size_t s = size_t(std::upper_bound(start.begin(), start.end(), lo) - start.begin()) - 1;
    while (lo < hi && s < segments.size()) {
      const SgdSegment& seg = segments[s];
      const int64_t a = seg.offset + (lo - start[s]);
      const int64_t b = seg.offset + (std::min(hi, start[s + 1]) - start[s]);
      if (rule.paper) paperRange(w, g, v, a, b, rule.lr, rule.momentum, seg.decay ? paperDecay : 0.0f);
      else pytorchRange(w, g, v, a, b, rule.lr, rule.momentum, seg.decay ? rule.weightDecay : 0.0f, rule.nesterov);
      lo = start[++s];
    }
  });
}

}  // namespace ck::cpu
