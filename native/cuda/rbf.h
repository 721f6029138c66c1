// LeNet-5's RBF output layer and criterion on the device: native/cpu/rbf.h plus the context.
// A label outside [0, K) is reported as ND_ARG at the next ctx.synchronize().
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void rbfForward(Ctx& ctx, const float* x, const float* w, float* y, int64_t N, int64_t F, int64_t K);
void rbfBackward(Ctx& ctx, const float* dy, const float* x, const float* w, float* dx, int64_t N, int64_t F, int64_t K);
void rbfCriterion(Ctx& ctx, const float* y, const int32_t* labels, float* loss, float* correct, float* dy, int64_t N,
                  int64_t K, float J);

}  // namespace ck::cuda
