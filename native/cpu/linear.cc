#include "linear.h"

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "conv_direct.h"
#include "gemm.h"
#include "linear_stream.h"

namespace ck::cpu {

namespace {

// With an empty reduction (K == 0) a GEMM implementation may skip C entirely; the result must
// still be beta * C, so these cases are done here rather than relying on sgemm's behaviour.
void scaleOrZero(float* c, int64_t n, float beta) {
  parallelRange(n, 1 << 16, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
  });
}

}  // namespace

void linearForward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in, int64_t out) {
  if (N == 0 || out == 0) return;
  if (in > 0 && linearStreamForwardApplies(N, in, out)) return linearStreamForward(x, w, b, y, N, in, out);
  if (in > 0 && N <= kSmallBatchLinear) return smallBatchLinear(x, w, b, N, in, out, y);
  // Rows of y start as the bias, so the GEMM adds onto them with beta = 1 and y is written once.
  if (b) {
    parallelRange(N, 64, [=](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; n++)
        for (int64_t o = 0; o < out; o++) y[n * out + o] = b[o];
    });
  }
  if (in == 0) {
    if (!b) scaleOrZero(y, N * out, 0.0f);
    return;
  }
  sgemm(false, true, N, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

std::vector<int64_t> linearForwardPathBounds() {
  // A layer's path changes at most at these batches (which of the last two it keeps depends on
  // its weight's size), so within one range each layer keeps to one path.
  if (linearStreamApplies(kStreamMaxBatch)) return {kStreamMinForwardBatch, kStreamMaxBatch, kStreamMaxForwardBatch};
  return {kSmallBatchLinear};
}

const char* linearStreamPathName() { return linearStreamApplies(1) ? "avx512" : "off"; }

void linearBackwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out) {
  if (N == 0 || in == 0) return;
  if (out == 0) return scaleOrZero(dx, N * in, 0.0f);
  if (linearStreamApplies(N)) return linearStreamBackwardData(dy, w, dx, N, in, out);
  sgemm(false, false, N, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void linearBackwardWeight(const float* dy, const float* x, float* dw, int64_t N, int64_t in, int64_t out, float beta) {
  if (out == 0 || in == 0) return;
  if (N == 0) return scaleOrZero(dw, out * in, beta);
  sgemm(true, false, out, in, N, 1.0f, dy, out, x, in, beta, dw, in);
}

// Column sums of dy [N, out], accumulated in double. Each task owns a slice of columns and walks
// the rows in order, so reads stay contiguous within a row and the result is deterministic.
void linearBackwardBias(const float* dy, float* db, int64_t N, int64_t out, float beta) {
  if (out == 0) return;
  Scratch acc(size_t(out) * sizeof(double));
  double* s = acc.as<double>();
  int64_t grain = N > 0 ? (1 << 15) / N + 1 : out;
  parallelRange(out, grain, [=](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; o++) s[o] = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float* row = dy + n * out;
      for (int64_t o = lo; o < hi; o++) s[o] += row[o];
    }
    for (int64_t o = lo; o < hi; o++) db[o] = beta == 0.0f ? float(s[o]) : float(s[o] + double(beta) * db[o]);
  });
}

}  // namespace ck::cpu
