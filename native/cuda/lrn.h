// Local response normalization across channels on the device: native/cpu/lrn.h's window,
// alpha convention, names and arguments (a null scale included) plus the context.
#pragma once
#include <cstdint>

#include "../core/geometry.h"
#include "context.h"

namespace ck::cuda {

void lrnForward(Ctx& ctx, const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale);
void lrnBackward(Ctx& ctx, const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                 const LrnParams& p, float* dx);

}  // namespace ck::cuda
