#include "../core/philox.h"
#include "cuda_check.h"
#include "elementwise.h"
#include "launch.h"

namespace ck::cuda {

namespace {

template <typename T>
__global__ void fill_kernel(T* y, int64_t n, T v) {
  CK_GRID_STRIDE(i, n) y[i] = v;
}

__global__ void axpby_kernel(const float* x, float* y, int64_t n, float a, float b) {
  CK_GRID_STRIDE(i, n) y[i] = b == 0.f ? a * x[i] : a * x[i] + b * y[i];
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  CK_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

__global__ void mul_kernel(const float* a, const float* b, float* y, int64_t n) {
  CK_GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

__global__ void random_normal_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float sd) {
  CK_GRID_STRIDE(i, n) y[i] = mean + sd * philoxNormal(seed, offset, uint64_t(i));
}

__global__ void random_uniform_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  CK_GRID_STRIDE(i, n) y[i] = lo + (hi - lo) * uniformFromWord(philoxWord(seed, offset, uint64_t(i)));
}

// One block: each thread sums a strided slice in double, then a tree in shared memory.
__global__ void sum_kernel(const float* x, float* y, int64_t n) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *y = float(part[0]);
}

}  // namespace

void fill(Ctx& ctx, float* y, int64_t n, float value) {
  if (n == 0) return;
  ctx.makeCurrent();
  fill_kernel<float><<<gridFor(n), kThreads, 0, ctx.stream()>>>(y, n, value);
  checkLaunch("fill");
}

void fillI32(Ctx& ctx, int32_t* y, int64_t n, int32_t value) {
  if (n == 0) return;
  ctx.makeCurrent();
  fill_kernel<int32_t><<<gridFor(n), kThreads, 0, ctx.stream()>>>(y, n, value);
  checkLaunch("fillI32");
}

void copy(Ctx& ctx, const float* x, float* y, int64_t n) {
  if (n == 0 || x == y) return;
  ctx.makeCurrent();
  check(cudaMemcpyAsync(y, x, size_t(n) * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream()), "copy");
}

void axpby(Ctx& ctx, const float* x, float* y, int64_t n, float a, float b) {
  if (n == 0) return;
  ctx.makeCurrent();
  axpby_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, y, n, a, b);
  checkLaunch("axpby");
}

void add(Ctx& ctx, const float* a, const float* b, float* y, int64_t n) {
  if (n == 0) return;
  ctx.makeCurrent();
  add_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(a, b, y, n);
  checkLaunch("add");
}

void mul(Ctx& ctx, const float* a, const float* b, float* y, int64_t n) {
  if (n == 0) return;
  ctx.makeCurrent();
  mul_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(a, b, y, n);
  checkLaunch("mul");
}

void randomNormal(Ctx& ctx, float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  if (n == 0) return;
  ctx.makeCurrent();
  random_normal_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(y, n, seed, offset, mean, std);
  checkLaunch("randomNormal");
}

void randomUniform(Ctx& ctx, float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  if (n == 0) return;
  ctx.makeCurrent();
  random_uniform_kernel<<<gridFor(n), kThreads, 0, ctx.stream()>>>(y, n, seed, offset, lo, hi);
  checkLaunch("randomUniform");
}

void sum(Ctx& ctx, const float* x, float* y, int64_t n) {
  ctx.makeCurrent();
  sum_kernel<<<1, kThreads, 0, ctx.stream()>>>(x, y, n);
  checkLaunch("sum");
}

}  // namespace ck::cuda
