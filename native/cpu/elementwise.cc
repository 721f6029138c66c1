#include "elementwise.h"

#include <cstring>

#include "../core/philox.h"
#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {
constexpr int64_t kGrain = 1 << 16;  // below this a loop is faster on one thread
}

void fill(float* y, int64_t n, float value) {
  parallelRange(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) y[i] = value;
  });
}

void fillI32(int32_t* y, int64_t n, int32_t value) {
  parallelRange(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) y[i] = value;
  });
}

int64_t firstNonFinite(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1024;
  constexpr uint32_t kExponent = 0x7f800000u;  // all ones: an infinity or a NaN
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    uint32_t bad = 0;
    for (int64_t i = b; i < e; i++) {
      uint32_t bits;
      std::memcpy(&bits, x + i, 4);
      bad |= uint32_t((bits & kExponent) == kExponent);
    }
    if (bad)
      for (int64_t i = b; i < e; i++) {
        uint32_t bits;
        std::memcpy(&bits, x + i, 4);
        if ((bits & kExponent) == kExponent) return i;
      }
  }
  return -1;
}

void copy(const float* x, float* y, int64_t n) {
  if (x == y) return;
  parallelRange(n, kGrain, [=](int64_t b, int64_t e) { std::memmove(y + b, x + b, size_t(e - b) * 4); });
}

void axpby(const float* x, float* y, int64_t n, float a, float b) {
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) {
    if (b == 0.0f) {
      for (int64_t i = lo; i < hi; i++) y[i] = a * x[i];
    } else {
      for (int64_t i = lo; i < hi; i++) y[i] = a * x[i] + b * y[i];
    }
  });
}

void add(const float* a, const float* b, float* y, int64_t n) {
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) y[i] = a[i] + b[i];
  });
}

void mul(const float* a, const float* b, float* y, int64_t n) {
  parallelRange(n, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) y[i] = a[i] * b[i];
  });
}

void randomNormal(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  parallelRange(n, 4096, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) y[i] = mean + std * philoxNormal(seed, offset, uint64_t(i));
  });
}

void randomUniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  parallelRange(n, 4096, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) y[i] = lo + (hi - lo) * uniformFromWord(philoxWord(seed, offset, uint64_t(i)));
  });
}

void sum(const float* x, float* y, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  *y = float(s);
}

}  // namespace ck::cpu
