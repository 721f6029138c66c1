#include "optim.h"

#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {
constexpr int64_t kGrain = 1 << 15;
}

void sgdStepPytorch(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay,
                    bool nesterov) {
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) {
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
  });
}

void sgdStepPaper(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay) {
  float decay = weightDecay * lr;
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) {
    if (!v) {  // without momentum the velocity is just this step's update
      for (int64_t i = lo; i < hi; i++) w[i] += -decay * w[i] - lr * g[i];
      return;
    }
    for (int64_t i = lo; i < hi; i++) {
      float vi = momentum * v[i] - decay * w[i] - lr * g[i];
      v[i] = vi;
      w[i] += vi;
    }
  });
}

}  // namespace ck::cpu
