// Dropout on the device with the CPU's Philox stream: element i is kept iff
// uniformFromWord(philoxWord(seed, offset, i)) >= p, so the same (seed, offset) gives the same
// mask bit for bit on both devices (native/cpu/dropout.h has the conventions).
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void dropoutForward(Ctx& ctx, const float* x, float* y, float* mask, int64_t n, float p, float scale, uint64_t seed,
                    uint64_t offset);
void dropoutBackward(Ctx& ctx, const float* dy, const float* mask, float* dx, int64_t n);

}  // namespace ck::cuda
