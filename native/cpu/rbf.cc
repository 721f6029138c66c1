#include "rbf.h"

#include <cmath>
#include <string>

#include "../core/errors.h"
#include "../core/thread_pool.h"

namespace ck::cpu {

void rbfForward(const float* x, const float* w, float* y, int64_t N, int64_t F, int64_t K) {
  parallelRange(N, 64, [=](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++)
      for (int64_t i = 0; i < K; i++) {
        float s = 0;
        for (int64_t j = 0; j < F; j++) {
          float d = x[n * F + j] - w[i * F + j];
          s += d * d;
        }
        y[n * K + i] = s;
      }
  });
}

void rbfBackward(const float* dy, const float* x, const float* w, float* dx, int64_t N, int64_t F, int64_t K) {
  parallelRange(N, 64, [=](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++)
      for (int64_t j = 0; j < F; j++) {
        float s = 0;
        for (int64_t i = 0; i < K; i++) s += dy[n * K + i] * 2.0f * (x[n * F + j] - w[i * F + j]);
        dx[n * F + j] = s;
      }
  });
}

void rbfCriterion(const float* y, const int32_t* labels, float* loss, float* correct, float* dy, int64_t N, int64_t K,
                  float J) {
  for (int64_t n = 0; n < N; n++)
    if (labels[n] < 0 || labels[n] >= K)
      throw Error(Code::Arg, "label " + std::to_string(labels[n]) + " at row " + std::to_string(n) +
                                 " is outside [0, " + std::to_string(K) + ")");
  double total = 0;
  int64_t hits = 0;
  for (int64_t n = 0; n < N; n++) {
    const float* yn = y + n * K;
    // log(e^-J + sum e^-y_i), stabilised by the smallest exponent argument m = min(J, min y).
    double m = J;
    int64_t best = 0;
    for (int64_t i = 0; i < K; i++) {
      if (yn[i] < m) m = yn[i];
      if (yn[i] < yn[best]) best = i;
    }
    double z = std::exp(-(J - m));
    for (int64_t i = 0; i < K; i++) z += std::exp(-(double(yn[i]) - m));
    double lse = std::log(z) - m;
    total += double(yn[labels[n]]) + lse;
    hits += best == labels[n];
    for (int64_t i = 0; i < K; i++) {
      double p = std::exp(-(double(yn[i]) - m)) / z;
      dy[n * K + i] = float(((i == labels[n] ? 1.0 : 0.0) - p) / double(N));
    }
  }
  *loss = float(total / double(N));
  *correct = float(hits);
}

}  // namespace ck::cpu
