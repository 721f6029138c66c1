// Fused SGD steps on the device: native/cpu/optim.h's rules, names and arguments plus the context.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void sgdStepPytorch(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                    float weightDecay, bool nesterov);
void sgdStepPaper(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay);

}  // namespace ck::cuda
