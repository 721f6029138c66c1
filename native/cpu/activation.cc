#include "activation.h"

#include <cmath>

#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {

// Cheap maps (relu) are memory-bound: split only when a range is worth a thread's wake-up.
constexpr int64_t kCheapGrain = 1 << 16;
// Transcendental maps cost ~20x more per element.
constexpr int64_t kCostlyGrain = 1 << 12;

template <typename F>
void mapUnary(const float* x, float* y, int64_t n, int64_t grain, F f) {
  parallelRange(n, grain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) y[i] = f(x[i]);
  });
}

template <typename F>
void mapBinary(const float* dy, const float* y, float* dx, int64_t n, int64_t grain, F f) {
  parallelRange(n, grain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) dx[i] = f(dy[i], y[i]);
  });
}

}  // namespace

void reluForward(const float* x, float* y, int64_t n) {
  mapUnary(x, y, n, kCheapGrain, [](float v) { return reluOf(v); });
}

void reluBackward(const float* dy, const float* y, float* dx, int64_t n) {
  mapBinary(dy, y, dx, n, kCheapGrain, [](float g, float v) { return v > 0.0f ? g : 0.0f; });
}

void tanhForward(const float* x, float* y, int64_t n) {
  mapUnary(x, y, n, kCostlyGrain, [](float v) { return std::tanh(v); });
}

void tanhBackward(const float* dy, const float* y, float* dx, int64_t n) {
  mapBinary(dy, y, dx, n, kCheapGrain, [](float g, float v) { return g * (1.0f - v * v); });
}

// Both branches evaluate exp of a non-positive number, so neither overflows.
void sigmoidForward(const float* x, float* y, int64_t n) {
  mapUnary(x, y, n, kCostlyGrain, [](float v) {
    if (v >= 0.0f) return 1.0f / (1.0f + std::exp(-v));
    float e = std::exp(v);
    return e / (1.0f + e);
  });
}

void sigmoidBackward(const float* dy, const float* y, float* dx, int64_t n) {
  mapBinary(dy, y, dx, n, kCheapGrain, [](float g, float v) { return g * v * (1.0f - v); });
}

void scaledTanhForward(const float* x, float* y, int64_t n) {
  mapUnary(x, y, n, kCostlyGrain, [](float v) { return kScaledTanhA * std::tanh(kScaledTanhS * v); });
}

void scaledTanhBackward(const float* dy, const float* y, float* dx, int64_t n) {
  mapBinary(dy, y, dx, n, kCheapGrain,
            [](float g, float v) { return g * (kScaledTanhS * (kScaledTanhA - v * v / kScaledTanhA)); });
}

}  // namespace ck::cpu
