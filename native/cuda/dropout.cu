#include "../core/philox.h"
#include "cuda_check.h"
#include "dropout.h"
#include "launch.h"

namespace ck::cuda {

namespace {

__global__ void dropout_forward_kernel(const float* x, float* y, float* mask, int64_t n, float p, float scale,
                                       uint64_t seed, uint64_t offset) {
  CK_GRID_STRIDE(i, n) {
    float m = uniformFromWord(philoxWord(seed, offset, uint64_t(i))) >= p ? scale : 0.f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void dropout_backward_kernel(const float* dy, const float* mask, float* dx, int64_t n) {
  CK_GRID_STRIDE(i, n) dx[i] = dy[i] * mask[i];
}

}  // namespace

void dropoutForward(Ctx& ctx, const float* x, float* y, float* mask, int64_t n, float p, float scale, uint64_t seed,
                    uint64_t offset) {
  if (n == 0) return;
  ctx.makeCurrent();
  dropout_forward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, y, mask, n, p, scale, seed, offset);
  checkLaunch("dropout");
}

void dropoutBackward(Ctx& ctx, const float* dy, const float* mask, float* dx, int64_t n) {
  if (n == 0) return;
  ctx.makeCurrent();
  dropout_backward_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(dy, mask, dx, n);
  checkLaunch("dropoutBackward");
}

}  // namespace ck::cuda
