// LeNet-5's output layer and criterion (LeCun et al. 1998, section II-B and eq. 9).
// RBF units: y[n,i] = sum_j (x[n,j] - w[i,j])^2 with fixed codes w [K, F].
// Criterion: E = mean_n [ y[n, label] + log(exp(-J) + sum_i exp(-y[n,i])) ], the MAP form that
// also pushes wrong classes' penalties up; J > 0 keeps the log bounded when all y are large.
#pragma once
#include <cstdint>

namespace ck::cpu {

void rbfForward(const float* x, const float* w, float* y, int64_t N, int64_t F, int64_t K);
// dx[n,j] = sum_i dy[n,i] * 2 (x[n,j] - w[i,j]) (the codes are fixed: no dw).
void rbfBackward(const float* dy, const float* x, const float* w, float* dx, int64_t N, int64_t F, int64_t K);
// loss[0] = E, correct[0] = count of argmin_i y[n,i] == label[n], dy = dE/dy (already / N).
// A label outside [0, K) throws ck::Error naming the row.
void rbfCriterion(const float* y, const int32_t* labels, float* loss, float* correct, float* dy, int64_t N, int64_t K,
                  float J);

}  // namespace ck::cpu
