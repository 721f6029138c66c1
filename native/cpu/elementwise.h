// Elementwise helpers training needs: fill, copy, axpby, add, mul, seeded random fills, sum.
#pragma once
#include <cstdint>

namespace ck::cpu {

void fill(float* y, int64_t n, float value);
void fillI32(int32_t* y, int64_t n, int32_t value);
void copy(const float* x, float* y, int64_t n);
// y = a*x + b*y  (b == 0 ignores y's old contents, so NaN garbage does not leak in)
void axpby(const float* x, float* y, int64_t n, float a, float b);
void add(const float* a, const float* b, float* y, int64_t n);
void mul(const float* a, const float* b, float* y, int64_t n);
// Philox streams: value i depends only on (seed, offset, i), the same on every device.
void randomNormal(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
void randomUniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
// Sum in double, written as one float.
void sum(const float* x, float* y, int64_t n);

}  // namespace ck::cpu
