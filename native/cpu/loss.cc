#include "loss.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <string>

#include "../core/errors.h"
#include "../core/scratch.h"
#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int64_t rowGrain(int64_t K) { return (1 << 14) / (K > 0 ? K : 1) + 1; }

// Writes the softmax of one row into y and returns log(sum(exp(x - max))) in double, with max.
double softmaxRow(const float* x, float* y, int64_t K, float* rowMax) {
  float m = x[0];
  for (int64_t k = 1; k < K; k++) m = x[k] > m ? x[k] : m;
  double s = 0.0;
  for (int64_t k = 0; k < K; k++) {
    float e = std::exp(x[k] - m);
    y[k] = e;
    s += e;
  }
  float inv = float(1.0 / s);
  for (int64_t k = 0; k < K; k++) y[k] *= inv;
  *rowMax = m;
  return std::log(s);
}

// Remembers the first (lowest) bad row across tasks; the kernel throws once all rows are done.
struct BadLabel {
  std::atomic<int64_t> row{std::numeric_limits<int64_t>::max()};
  void note(int64_t r) {
    int64_t cur = row.load();
    while (r < cur && !row.compare_exchange_weak(cur, r)) {}
  }
  void raise(const int32_t* labels, int64_t K) const {
    int64_t r = row.load();
    if (r == std::numeric_limits<int64_t>::max()) return;
    throw Error(Code::Arg, "label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                               std::to_string(K) + ")");
  }
};

}  // namespace

void softmaxForward(const float* x, float* y, int64_t N, int64_t K) {
  if (K == 0) return;
  parallelRange(N, rowGrain(K), [=](int64_t lo, int64_t hi) {
    float m;
    for (int64_t n = lo; n < hi; n++) softmaxRow(x + n * K, y + n * K, K, &m);
  });
}

void softmaxBackward(const float* dy, const float* y, float* dx, int64_t N, int64_t K) {
  parallelRange(N, rowGrain(K), [=](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; n++) {
      const float* g = dy + n * K;
      const float* p = y + n * K;
      float* d = dx + n * K;
      double dot = 0.0;
      for (int64_t k = 0; k < K; k++) dot += double(g[k]) * p[k];
      float fdot = float(dot);
      for (int64_t k = 0; k < K; k++) d[k] = p[k] * (g[k] - fdot);
    }
  });
}

void softmaxCrossEntropyForward(const float* logits, const int32_t* labels, float* probs, float* loss, float* correct,
                                float* correctTopK, int64_t N, int64_t K, int64_t k) {
  // Per-row results land in scratch and are reduced in row order, so the sum does not depend
  // on how rows were split across threads.
  Scratch rowLossBuf(size_t(N > 0 ? N : 1) * sizeof(double));
  Scratch rowRankBuf(size_t(N > 0 ? N : 1) * sizeof(int64_t));
  double* rowLoss = rowLossBuf.as<double>();
  int64_t* rowRank = rowRankBuf.as<int64_t>();
  BadLabel bad;
  BadLabel* badp = &bad;
  parallelRange(N, rowGrain(K), [=](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; n++) {
      const float* x = logits + n * K;
      float* p = probs + n * K;
      int32_t label = labels[n];
      if (label < 0 || int64_t(label) >= K) {
        badp->note(n);
        for (int64_t j = 0; j < K; j++) p[j] = kNaN;
        rowLoss[n] = double(kNaN);
        rowRank[n] = K;
        continue;
      }
      float m;
      double lse = softmaxRow(x, p, K, &m);
      rowLoss[n] = double(m) + lse - double(x[label]);
      // Rank of the label: how many classes beat it (an equal logit beats it if its index is
      // smaller, matching argmax's first-index rule).
      float t = x[label];
      int64_t rank = 0;
      for (int64_t j = 0; j < K; j++) rank += (x[j] > t) || (x[j] == t && j < label);
      rowRank[n] = rank;
    }
  });
  double total = 0.0;
  int64_t top1 = 0, topk = 0;
  for (int64_t n = 0; n < N; n++) {
    total += rowLoss[n];
    top1 += rowRank[n] == 0;
    topk += rowRank[n] < k;
  }
  *loss = N > 0 ? float(total / double(N)) : kNaN;
  *correct = float(top1);
  if (correctTopK) *correctTopK = float(topk);
  bad.raise(labels, K);
}

void softmaxCrossEntropyBackward(const float* probs, const int32_t* labels, float* dlogits, int64_t N, int64_t K,
                                 float scale) {
  BadLabel bad;
  BadLabel* badp = &bad;
  float s = N > 0 ? float(double(scale) / double(N)) : 0.0f;
  parallelRange(N, rowGrain(K), [=](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; n++) {
      const float* p = probs + n * K;
      float* d = dlogits + n * K;
      int32_t label = labels[n];
      if (label < 0 || int64_t(label) >= K) {
        badp->note(n);
        for (int64_t j = 0; j < K; j++) d[j] = kNaN;
        continue;
      }
      for (int64_t j = 0; j < K; j++) d[j] = s * p[j];
      d[label] = s * (p[label] - 1.0f);
    }
  });
  bad.raise(labels, K);
}

}  // namespace ck::cpu
