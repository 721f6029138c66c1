// 2-D pooling on the device: native/cpu/pool.h's names, geometry and conventions plus the
// context. Backward passes gather per input element (no atomics: repeatable, and the same
// summation order as the CPU's scatter).
#pragma once
#include <cstdint>

#include "../core/geometry.h"
#include "context.h"

namespace ck::cuda {

void maxPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, float* y, int32_t* argmax);
// An argmax outside the input plane is reported as ND_ARG at the next ctx.synchronize().
void maxPool2dBackward(Ctx& ctx, const float* dy, const int32_t* argmax, const Pool2dGeom& g, float* dx);
void avgPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, bool countIncludePad, float* y);
void avgPool2dBackward(Ctx& ctx, const float* dy, const Pool2dGeom& g, bool countIncludePad, float* dx);
void sumPool2dForward(Ctx& ctx, const float* x, const Pool2dGeom& g, float* y);
void sumPool2dBackward(Ctx& ctx, const float* dy, const Pool2dGeom& g, float* dx);

}  // namespace ck::cuda
