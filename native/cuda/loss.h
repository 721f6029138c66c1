// Softmax and fused softmax cross-entropy on the device: native/cpu/loss.h's names, arguments
// and outputs plus the context. A label outside [0, K) gives NaN rows and is reported as ND_ARG
// (with the row) at the next ctx.synchronize(), as the CPU reports it at the next wait.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void softmaxForward(Ctx& ctx, const float* x, float* y, int64_t N, int64_t K);
void softmaxBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t N, int64_t K);
void softmaxCrossEntropyForward(Ctx& ctx, const float* logits, const int32_t* labels, float* probs, float* loss,
                                float* correct, float* correctTopK, int64_t N, int64_t K, int64_t k);
void softmaxCrossEntropyBackward(Ctx& ctx, const float* probs, const int32_t* labels, float* dlogits, int64_t N,
                                 int64_t K, float scale);

}  // namespace ck::cuda
