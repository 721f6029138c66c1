#include "cuda_check.h"
#include "launch.h"
#include "optim.h"

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

}  // namespace ck::cuda
