// One functor per activation, one grid-stride kernel template for all of them.
#include "../core/geometry.h"
#include "activation.h"
#include "cuda_check.h"
#include "launch.h"

namespace ck::cuda {

namespace {

struct Relu {
  __device__ static float f(float x) { return x > 0.f ? x : 0.f; }
  __device__ static float df(float dy, float y) { return y > 0.f ? dy : 0.f; }
};
struct Tanh {
  __device__ static float f(float x) { return tanhf(x); }
  __device__ static float df(float dy, float y) { return dy * (1.f - y * y); }
};
struct Sigmoid {
  __device__ static float f(float x) { return 1.f / (1.f + expf(-x)); }
  __device__ static float df(float dy, float y) { return dy * y * (1.f - y); }
};
struct ScaledTanh {
  __device__ static float f(float x) { return kScaledTanhA * tanhf(kScaledTanhS * x); }
  __device__ static float df(float dy, float y) { return dy * kScaledTanhS * (kScaledTanhA - y * y / kScaledTanhA); }
};

template <typename F>
__global__ void forward_kernel(const float* x, float* y, int64_t n) {
  CK_GRID_STRIDE(i, n) y[i] = F::f(x[i]);
}

template <typename F>
__global__ void backward_kernel(const float* dy, const float* y, float* dx, int64_t n) {
  CK_GRID_STRIDE(i, n) dx[i] = F::df(dy[i], y[i]);
}

template <typename F>
void forward(Ctx& ctx, const float* x, float* y, int64_t n, const char* op) {
  if (n == 0) return;
  ctx.makeCurrent();
  forward_kernel<F><<<gridFor(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  checkLaunch(op);
}

template <typename F>
void backward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t n, const char* op) {
  if (n == 0) return;
  ctx.makeCurrent();
  backward_kernel<F><<<gridFor(n), kThreads, 0, ctx.stream()>>>(dy, y, dx, n);
  checkLaunch(op);
}

}  // namespace

void reluForward(Ctx& c, const float* x, float* y, int64_t n) { forward<Relu>(c, x, y, n, "relu"); }
void reluBackward(Ctx& c, const float* dy, const float* y, float* dx, int64_t n) {
  backward<Relu>(c, dy, y, dx, n, "reluBackward");
}
void tanhForward(Ctx& c, const float* x, float* y, int64_t n) { forward<Tanh>(c, x, y, n, "tanh"); }
void tanhBackward(Ctx& c, const float* dy, const float* y, float* dx, int64_t n) {
  backward<Tanh>(c, dy, y, dx, n, "tanhBackward");
}
void sigmoidForward(Ctx& c, const float* x, float* y, int64_t n) { forward<Sigmoid>(c, x, y, n, "sigmoid"); }
void sigmoidBackward(Ctx& c, const float* dy, const float* y, float* dx, int64_t n) {
  backward<Sigmoid>(c, dy, y, dx, n, "sigmoidBackward");
}
void scaledTanhForward(Ctx& c, const float* x, float* y, int64_t n) { forward<ScaledTanh>(c, x, y, n, "scaledTanh"); }
void scaledTanhBackward(Ctx& c, const float* dy, const float* y, float* dx, int64_t n) {
  backward<ScaledTanh>(c, dy, y, dx, n, "scaledTanhBackward");
}

}  // namespace ck::cuda
