// Fast paths of conv2d for the small convolutions of nets like LeNet-5, chosen by shape in
// conv.cc (the im2col + GEMM path stays for everything else):
// - direct: stride 1, dilation 1, one group, few input taps. Each image is convolved straight
//   from a zero-padded copy, with register-tiled vector loops (conv_direct_kernels.h); the
//   input gradient is the same loop over the padded dy with flipped filters, and the filter
//   gradient a dot product per (channel, tap) split over images across threads.
// - full kernel: the filter covers the whole unpadded input (a 1x1 output, LeNet-5's C5), which
//   is a linear layer on the flattened input: one GEMM per pass, no im2col.
// Weights arrive already masked; dw is the gradient of the masked weight before masking.
#pragma once
#include <string>

#include "conv.h"

namespace ck::cpu {

bool convDirectApplies(const Conv2dGeom& g);
// relu: max(0, y) in the same pass (the copy out of the wide rows). pool2x2: y is the 2x2 / 2 max
// pool of that [N, OC, OH / 2, OW / 2], taken from the wide rows instead of the copy.
void conv2dDirectForward(const float* x, const float* w, const float* bias, const Conv2dGeom& g, float* y,
                         bool relu = false, bool pool2x2 = false);
// db (may be null) is computed here too, from the copy of dy this pass makes anyway.
void conv2dDirectBackward(const float* dy, const float* x, const float* w, const Conv2dGeom& g, float* dx, float* dw,
                          float* db);

bool convFullKernelApplies(const Conv2dGeom& g);
void conv2dFullKernelForward(const float* x, const float* w, const float* bias, const Conv2dGeom& g, float* y,
                             bool relu = false);
void conv2dFullKernelBackward(const float* dy, const float* x, const float* w, const Conv2dGeom& g, float* dx,
                              float* dw);

// y [N, OC] = x [N, K] * w [OC, K]^T + bias (may be null) as one dot product per output: for a
// batch of a few samples, where a GEMM spends longer packing the weights than multiplying
// (LeNet-5's C5 at batch 1: 11 us through sgemm, ~2 us here). Used by conv and linear.
constexpr int64_t kSmallBatch = 4;
// Linear layers take the dot products up to this batch: a weight matrix far larger than the
// caches (AlexNet's fc6, 151 MB) streams through once, where the GEMM also packed all of it.
constexpr int64_t kSmallBatchLinear = 16;
void smallBatchLinear(const float* x, const float* w, const float* bias, int64_t N, int64_t K, int64_t OC, float* y);

// Which fast path code runs: "auto" (best for this CPU), "avx512", "portable", or "off" (every
// convolution takes the im2col + GEMM path). Tests run each. Returns "" or why a name is refused.
std::string convFastPathSet(const std::string& name);
const char* convFastPathName();

}  // namespace ck::cpu
