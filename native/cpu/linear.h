// Fully connected layer in PyTorch's layout: x [N, in], W [out, in], b [out], y [N, out].
//   forward        y  = x W^T + b
//   backward data  dx = dy W            [N, in]
//   backward W     dW = dy^T x (+ beta * dW, so gradients can accumulate)   [out, in]
//   backward b     db = sum over N of dy (+ beta * db)                       [out]
// All on ck::cpu::sgemm; sizes may be zero.
#pragma once
#include <cstdint>

namespace ck::cpu {

// b may be null (no bias).
void linearForward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in, int64_t out);
void linearBackwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out);
void linearBackwardWeight(const float* dy, const float* x, float* dw, int64_t N, int64_t in, int64_t out, float beta);
void linearBackwardBias(const float* dy, float* db, int64_t N, int64_t out, float beta);

}  // namespace ck::cpu
