// AVX-512 build of max pooling for windows that all lie inside the input (pool.cc's
// allWindowsInside): sixteen outputs of a row per vector. Same row-major scan, same tie and NaN
// rule as the portable loops, so the same outputs and argmax.
#pragma once
#include <cstdint>

#include "pool.h"

namespace ck::cpu::poolavx {

// Planes [p0, p1) of x, y and argmax (flattened N*C planes).
void maxInside(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y, int32_t* argmax);

}  // namespace ck::cpu::poolavx
