// Activations and their backward passes, elementwise over n floats. Backward reads the saved
// output y (exact for all four: relu's mask is the same from x or y), so forward may run in
// place (x == y) and the input need not be kept. Every function accepts aliasing in == out.
#pragma once
#include <cstdint>

#include "../core/geometry.h"

namespace ck::cpu {

// LeNet-5's squashing function f(a) = A*tanh(S*a) (LeCun et al. 1998, appendix A); the constants
// live in native/core/geometry.h, shared with native/cuda.
using ck::kScaledTanhA;
using ck::kScaledTanhS;

// The ReLU of one value as every CPU kernel takes it: v < 0 ? 0 : v rather than max(v, 0), so a
// NaN input stays NaN instead of being hidden. Epilogues that fold it into another pass apply it
// to v + bias (or v + 0, which turns -0 into +0, as the separate pass did).
inline float reluOf(float v) { return v < 0.0f ? 0.0f : v; }

void reluForward(const float* x, float* y, int64_t n);
// dx = dy where y > 0, else 0 (the subgradient at 0 is 0, as in PyTorch).
void reluBackward(const float* dy, const float* y, float* dx, int64_t n);

void tanhForward(const float* x, float* y, int64_t n);
// dx = dy * (1 - y^2)
void tanhBackward(const float* dy, const float* y, float* dx, int64_t n);

void sigmoidForward(const float* x, float* y, int64_t n);
// dx = dy * y * (1 - y)
void sigmoidBackward(const float* dy, const float* y, float* dx, int64_t n);

void scaledTanhForward(const float* x, float* y, int64_t n);
// dx = dy * S * (A - y^2 / A), since f'(a) = A*S*(1 - tanh^2) and tanh = y/A.
void scaledTanhBackward(const float* dy, const float* y, float* dx, int64_t n);

}  // namespace ck::cpu
