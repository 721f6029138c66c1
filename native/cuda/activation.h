// Activations on the device: native/cpu/activation.h's names and arguments plus the context.
// Backward reads the saved output y; every function accepts in == out.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void reluForward(Ctx& ctx, const float* x, float* y, int64_t n);
void reluBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t n);
void tanhForward(Ctx& ctx, const float* x, float* y, int64_t n);
void tanhBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t n);
void sigmoidForward(Ctx& ctx, const float* x, float* y, int64_t n);
void sigmoidBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t n);
void scaledTanhForward(Ctx& ctx, const float* x, float* y, int64_t n);
void scaledTanhBackward(Ctx& ctx, const float* dy, const float* y, float* dx, int64_t n);

}  // namespace ck::cuda
