// One thread per row (class counts are small: 10 for MNIST, 1000 for ImageNet), then one block
// that reduces the per-row losses and ranks in double.
#include "cuda_check.h"
#include "device_scratch.h"
#include "launch.h"
#include "loss.h"

namespace ck::cuda {

namespace {

__device__ void reportBadRow(int* fault, int64_t row) {
  if (atomicCAS(fault, 0, int(KernelFault::LabelOutOfRange)) == 0) fault[1] = int(row);
}

// The CPU's softmaxRow: max, exp, sum in double, scale by the float reciprocal; returns log(sum).
__device__ double softmaxRow(const float* x, float* y, int64_t K, float* rowMax) {
  float m = x[0];
  for (int64_t k = 1; k < K; k++) m = x[k] > m ? x[k] : m;
  double s = 0.0;
  for (int64_t k = 0; k < K; k++) {
    float e = expf(x[k] - m);
    y[k] = e;
    s += e;
  }
  float inv = float(1.0 / s);
  for (int64_t k = 0; k < K; k++) y[k] *= inv;
  *rowMax = m;
  return log(s);
}

__global__ void softmax_kernel(const float* x, float* y, int64_t N, int64_t K) {
  CK_GRID_STRIDE(n, N) {
    float m;
    softmaxRow(x + n * K, y + n * K, K, &m);
  }
}

__global__ void softmax_backward_kernel(const float* dy, const float* y, float* dx, int64_t N, int64_t K) {
  CK_GRID_STRIDE(n, N) {
    const float *g = dy + n * K, *p = y + n * K;
    double dot = 0.0;
    for (int64_t k = 0; k < K; k++) dot += double(g[k]) * p[k];
    float fdot = float(dot);
    for (int64_t k = 0; k < K; k++) dx[n * K + k] = p[k] * (g[k] - fdot);
  }
}

__global__ void xent_rows_kernel(const float* logits, const int32_t* labels, float* probs, double* rowLoss,
                                 int64_t* rowRank, int64_t N, int64_t K, int* fault) {
  CK_GRID_STRIDE(n, N) {
    const float* x = logits + n * K;
    float* p = probs + n * K;
    int32_t label = labels[n];
    if (label < 0 || int64_t(label) >= K) {
      reportBadRow(fault, n);
      for (int64_t j = 0; j < K; j++) p[j] = NAN;
      rowLoss[n] = NAN;
      rowRank[n] = K;
      continue;
    }
    float m;
    double lse = softmaxRow(x, p, K, &m);
    rowLoss[n] = double(m) + lse - double(x[label]);
    float t = x[label];
    int64_t rank = 0;
    for (int64_t j = 0; j < K; j++) rank += (x[j] > t) || (x[j] == t && j < label);
    rowRank[n] = rank;
  }
}

__global__ void xent_reduce_kernel(const double* rowLoss, const int64_t* rowRank, int64_t N, int64_t k, float* loss,
                                   float* correct, float* correctTopK) {
  __shared__ double sl[kThreads];
  __shared__ long long s1[kThreads], sk[kThreads];
  double l = 0;
  long long t1 = 0, tk = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    l += rowLoss[n];
    t1 += rowRank[n] == 0;
    tk += rowRank[n] < k;
  }
  sl[threadIdx.x] = l;
  s1[threadIdx.x] = t1;
  sk[threadIdx.x] = tk;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) {
      sl[threadIdx.x] += sl[threadIdx.x + w];
      s1[threadIdx.x] += s1[threadIdx.x + w];
      sk[threadIdx.x] += sk[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *loss = N > 0 ? float(sl[0] / double(N)) : NAN;
    *correct = float(s1[0]);
    if (correctTopK) *correctTopK = float(sk[0]);
  }
}

__global__ void xent_backward_kernel(const float* probs, const int32_t* labels, float* d, int64_t N, int64_t K, float s,
                                     int* fault) {
  CK_GRID_STRIDE(i, N * K) {
    int64_t n = i / K, j = i % K;
    int32_t label = labels[n];
    if (label < 0 || int64_t(label) >= K) {
      if (j == 0) reportBadRow(fault, n);
      d[i] = NAN;
      continue;
    }
    d[i] = j == label ? s * (probs[i] - 1.0f) : s * probs[i];
  }
}

}  // namespace

void softmaxForward(Ctx& ctx, const float* x, float* y, int64_t N, int64_t K) {
  if (N == 0 || K == 0) return;
  ctx.makeCurrent();
  softmax_kernel<<<gridFor(N), kThreads, 0, ctx.stream()>>>(x, y, N, K);
  checkLaunch("softmax");
}

void softmaxBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t N, int64_t K) {
  if (N == 0 || K == 0) return;
  ctx.makeCurrent();
  softmax_backward_kernel<<<gridFor(N), kThreads, 0, ctx.stream()>>>(dy, y, dx, N, K);
  checkLaunch("softmaxBackward");
}

void softmaxCrossEntropyForward(Ctx& ctx, const float* logits, const int32_t* labels, float* probs, float* loss,
                                float* correct, float* correctTopK, int64_t N, int64_t K, int64_t k) {
  ctx.makeCurrent();
  size_t rows = size_t(N > 0 ? N : 1);
  DeviceScratch rowLoss(ctx, rows * sizeof(double)), rowRank(ctx, rows * sizeof(int64_t));
  if (N > 0) {
    xent_rows_kernel<<<gridFor(N), kThreads, 0, ctx.stream()>>>(logits, labels, probs, rowLoss.as<double>(),
                                                                rowRank.as<int64_t>(), N, K, ctx.faultWord());
    checkLaunch("softmaxCrossEntropy");
  }
  xent_reduce_kernel<<<1, kThreads, 0, ctx.stream()>>>(rowLoss.as<double>(), rowRank.as<int64_t>(), N, k, loss, correct,
                                                       correctTopK);
  checkLaunch("softmaxCrossEntropy");
}

void softmaxCrossEntropyBackward(Ctx& ctx, const float* probs, const int32_t* labels, float* dlogits, int64_t N,
                                 int64_t K, float scale) {
  if (N == 0 || K == 0) return;
  ctx.makeCurrent();
  float s = float(double(scale) / double(N));
  xent_backward_kernel<<<gridFor(N * K), kThreads, 0, ctx.stream()>>>(probs, labels, dlogits, N, K, s, ctx.faultWord());
  checkLaunch("softmaxCrossEntropyBackward");
}

}  // namespace ck::cuda
