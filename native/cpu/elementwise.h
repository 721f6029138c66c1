// Elementwise helpers training needs: fill, copy, axpby, add, mul, seeded random fills, sum;
// and the scan for a non-finite value that checks a caller's input.
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
// The index of the first NaN or infinity in x[0, n), or -1: on the calling thread, in blocks
// whose exponent bits are tested without a branch per value (vectorised), so that checking
// AlexNet's 155k-float input takes microseconds, not the quarter millisecond of a JS loop.
int64_t firstNonFinite(const float* x, int64_t n);

}  // namespace ck::cpu
