// y[n,i] = sum_j (x[n,j] - w[i,j])^2; one thread per output (forward) or input (backward); the
// criterion is one thread per row and a one-block reduction in double.
#include "cuda_check.h"
#include "device_scratch.h"
#include "launch.h"
#include "rbf.h"

namespace ck::cuda {

namespace {

__global__ void rbf_forward_kernel(const float* x, const float* w, float* y, int64_t N, int64_t F, int64_t K) {
  CK_GRID_STRIDE(e, N * K) {
    int64_t n = e / K, i = e % K;
    float s = 0;
    for (int64_t j = 0; j < F; j++) {
      float d = x[n * F + j] - w[i * F + j];
      s += d * d;
    }
    y[e] = s;
  }
}

__global__ void rbf_backward_kernel(const float* dy, const float* x, const float* w, float* dx, int64_t N, int64_t F,
                                    int64_t K) {
  CK_GRID_STRIDE(e, N * F) {
    int64_t n = e / F, j = e % F;
    float s = 0;
    for (int64_t i = 0; i < K; i++) s += dy[n * K + i] * 2.0f * (x[e] - w[i * F + j]);
    dx[e] = s;
  }
}

__global__ void rbf_rows_kernel(const float* y, const int32_t* labels, float* dy, double* rowLoss, int* rowHit,
                                int64_t N, int64_t K, float J, int* fault) {
  CK_GRID_STRIDE(n, N) {
    int32_t label = labels[n];
    if (label < 0 || label >= K) {
      if (atomicCAS(fault, 0, int(KernelFault::LabelOutOfRange)) == 0) fault[1] = int(n);
      rowLoss[n] = NAN;
      rowHit[n] = 0;
      continue;
    }
    const float* yn = y + n * K;
    double m = J;
    int64_t best = 0;
    for (int64_t i = 0; i < K; i++) {
      if (yn[i] < m) m = yn[i];
      if (yn[i] < yn[best]) best = i;
    }
    double z = exp(-(J - m));
    for (int64_t i = 0; i < K; i++) z += exp(-(double(yn[i]) - m));
    rowLoss[n] = double(yn[label]) + log(z) - m;
    rowHit[n] = best == label;
    for (int64_t i = 0; i < K; i++) {
      double p = exp(-(double(yn[i]) - m)) / z;
      dy[n * K + i] = float(((i == label ? 1.0 : 0.0) - p) / double(N));
    }
  }
}

__global__ void rbf_reduce_kernel(const double* rowLoss, const int* rowHit, int64_t N, float* loss, float* correct) {
  __shared__ double sl[kThreads];
  __shared__ long long sh[kThreads];
  double l = 0;
  long long h = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    l += rowLoss[n];
    h += rowHit[n];
  }
  sl[threadIdx.x] = l;
  sh[threadIdx.x] = h;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) {
      sl[threadIdx.x] += sl[threadIdx.x + w];
      sh[threadIdx.x] += sh[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *loss = float(sl[0] / double(N));
    *correct = float(sh[0]);
  }
}

}  // namespace

void rbfForward(Ctx& ctx, const float* x, const float* w, float* y, int64_t N, int64_t F, int64_t K) {
  if (N * K == 0) return;
  ctx.makeCurrent();
  rbf_forward_kernel<<<gridFor(N * K), kThreads, 0, ctx.stream()>>>(x, w, y, N, F, K);
  checkLaunch("rbf");
}

void rbfBackward(Ctx& ctx, const float* dy, const float* x, const float* w, float* dx, int64_t N, int64_t F,
                 int64_t K) {
  if (N * F == 0) return;
  ctx.makeCurrent();
  rbf_backward_kernel<<<gridFor(N * F), kThreads, 0, ctx.stream()>>>(dy, x, w, dx, N, F, K);
  checkLaunch("rbfBackward");
}

void rbfCriterion(Ctx& ctx, const float* y, const int32_t* labels, float* loss, float* correct, float* dy, int64_t N,
                  int64_t K, float J) {
  ctx.makeCurrent();
  size_t rows = size_t(N > 0 ? N : 1);
  DeviceScratch rowLoss(ctx, rows * sizeof(double)), rowHit(ctx, rows * sizeof(int));
  if (N > 0) {
    rbf_rows_kernel<<<gridFor(N), kThreads, 0, ctx.stream()>>>(y, labels, dy, rowLoss.as<double>(), rowHit.as<int>(), N,
                                                               K, J, ctx.faultWord());
    checkLaunch("rbfCriterion");
  }
  rbf_reduce_kernel<<<1, kThreads, 0, ctx.stream()>>>(rowLoss.as<double>(), rowHit.as<int>(), N, loss, correct);
  checkLaunch("rbfCriterion");
}

}  // namespace ck::cuda
