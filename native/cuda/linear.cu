//   forward y = x W^T + b;  data dx = dy W;  weight dW = dy^T x (+ beta dW);  bias db = sum_n dy
#include "cuda_check.h"
#include "elementwise.h"
#include "gemm.h"
#include "launch.h"
#include "linear.h"

namespace ck::cuda {

namespace {

__global__ void broadcast_rows_kernel(const float* b, float* y, int64_t N, int64_t out) {
  CK_GRID_STRIDE(i, N * out) y[i] = b[i % out];
}

// One thread per output column, summing the rows in order in double (like the CPU twin).
__global__ void bias_grad_kernel(const float* dy, float* db, int64_t N, int64_t out, float beta) {
  CK_GRID_STRIDE(o, out) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += dy[n * out + o];
    db[o] = beta == 0.f ? float(s) : float(s + double(beta) * db[o]);
  }
}

}  // namespace

void linearForward(Ctx& ctx, const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in,
                   int64_t out) {
  if (N == 0 || out == 0) return;
  ctx.makeCurrent();
  if (b) {
    broadcast_rows_kernel<<<gridFor(N * out), kThreads, 0, ctx.stream()>>>(b, y, N, out);
    checkLaunch("linear");
  }
  // K == 0 is handled inside sgemm (beta * C).
  sgemm(ctx, false, true, N, out, in, 1.f, x, in, w, in, b ? 1.f : 0.f, y, out);
}

void linearBackwardData(Ctx& ctx, const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out) {
  if (N == 0 || in == 0) return;
  sgemm(ctx, false, false, N, in, out, 1.f, dy, out, w, in, 0.f, dx, in);
}

void linearBackwardWeight(Ctx& ctx, const float* dy, const float* x, float* dw, int64_t N, int64_t in, int64_t out,
                          float beta) {
  if (out == 0 || in == 0) return;
  sgemm(ctx, true, false, out, in, N, 1.f, dy, out, x, in, beta, dw, in);
}

void linearBackwardBias(Ctx& ctx, const float* dy, float* db, int64_t N, int64_t out, float beta) {
  if (out == 0) return;
  ctx.makeCurrent();
  bias_grad_kernel<<<gridFor(out), kThreads, 0, ctx.stream()>>>(dy, db, N, out, beta);
  checkLaunch("linearBackwardBias");
}

}  // namespace ck::cuda
