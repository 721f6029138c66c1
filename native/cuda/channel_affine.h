// Per-channel affine map on the device: native/cpu/channel_affine.h plus the context.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void channelAffineForward(Ctx& ctx, const float* x, const float* a, const float* b, float* y, int64_t N, int64_t C,
                          int64_t HW);
void channelAffineBackward(Ctx& ctx, const float* dy, const float* x, const float* a, float* dx, float* da, float* db,
                           int64_t N, int64_t C, int64_t HW);

}  // namespace ck::cuda
