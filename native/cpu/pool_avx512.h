// AVX-512 build of max pooling for windows that all lie inside the input (pool.cc's
// allWindowsInside): sixteen outputs of a row per vector. Same row-major scan, same tie and NaN
// rule as the portable loops, so the same outputs and argmax.
#pragma once
#include <cstdint>

#include "pool.h"

namespace ck::cpu::poolavx {

// Planes [p0, p1) of x, y and argmax (flattened N*C planes); argmax may be null (values only,
// the same values).
void maxInside(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y, int32_t* argmax);

// Values only (no argmax: inference) of 2x2 windows at stride 2 inside the input (pool.cc's
// isTiled2x2), planes [p0, p1): the same scan and rule, so the same values bit for bit.
void maxTiled2x2Values(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y);

}  // namespace ck::cpu::poolavx
