// Per-channel affine map over NCHW: y[n,c,:] = a[c] * x[n,c,:] + b[c]. LeNet-5's S2/S4
// subsampling is a window sum followed by this (one trainable coefficient and bias per map).
#pragma once
#include <cstdint>

namespace ck::cpu {

void channelAffineForward(const float* x, const float* a, const float* b, float* y, int64_t N, int64_t C, int64_t HW);
// dx = a[c] * dy (skipped when dx is null); da[c] = sum dy*x; db[c] = sum dy (overwritten).
void channelAffineBackward(const float* dy, const float* x, const float* a, float* dx, float* da, float* db, int64_t N,
                           int64_t C, int64_t HW);

}  // namespace ck::cpu
