// Elementwise helpers on the device: the same names and arguments as native/cpu/elementwise.h,
// plus the device context. randomNormal/randomUniform draw the same Philox streams as the CPU.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void fill(Ctx& ctx, float* y, int64_t n, float value);
void fillI32(Ctx& ctx, int32_t* y, int64_t n, int32_t value);
void copy(Ctx& ctx, const float* x, float* y, int64_t n);
void axpby(Ctx& ctx, const float* x, float* y, int64_t n, float a, float b);
void add(Ctx& ctx, const float* a, const float* b, float* y, int64_t n);
void mul(Ctx& ctx, const float* a, const float* b, float* y, int64_t n);
void randomNormal(Ctx& ctx, float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
void randomUniform(Ctx& ctx, float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
// y[0] = sum of x, accumulated in double (one block: the order is fixed, the result repeatable).
void sum(Ctx& ctx, const float* x, float* y, int64_t n);

}  // namespace ck::cuda
