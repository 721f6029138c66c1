// Fused SGD steps on the device: native/cpu/optim.h's rules, names and arguments plus the context.
#pragma once
#include <cstdint>
#include <vector>

#include "../cpu/optim.h"
#include "context.h"

namespace ck::cuda {

void sgdStepPytorch(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                    float weightDecay, bool nesterov);
void sgdStepPaper(Ctx& ctx, float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay);
// cpu::sgdFlat on the device: one launch per 64 segments (one launch for LeNet-5 and AlexNet).
void sgdFlat(Ctx& ctx, float* w, const float* g, float* v, const std::vector<cpu::SgdSegment>& segments,
             const cpu::SgdRule& rule);

}  // namespace ck::cuda
