// Local response normalization across channels (AlexNet), NCHW, forward and backward.
//
//   scale_c = k + alphaEff * sum_{c' = c - size/2 .. c + (size-1)/2, clipped to [0, C)} x_{c'}^2
//   y_c     = x_c * scale_c^-beta
//
// The window is PyTorch's (for even sizes it reaches one channel further back than forward).
// alphaEff is the coefficient actually applied: alpha/size for the Caffe/PyTorch/ONNX convention,
// alpha itself for the paper's and TensorFlow's. The TypeScript layer chooses; the kernel does not.
#pragma once
#include <cstdint>

#include "../core/geometry.h"

namespace ck::cpu {

using ck::LrnGeom;  // native/core/geometry.h, shared with native/cuda
using ck::LrnParams;

// Writes y and, unless scale is null, the scale (both [N, C, H, W]), which backward can use.
void lrnForward(const float* x, const LrnGeom& g, const LrnParams& p, float* y, float* scale);

// dx_j = dy_j * scale_j^-beta
//        - 2 * beta * alphaEff * x_j * sum_{c : j in window(c)} dy_c * y_c / scale_c
// and, with p.reluInput, dx_j = 0 where x_j <= 0 (the preceding ReLU's backward). A null scale
// is recomputed from x, with the same bits the forward wrote: a network need not keep it; y is
// then never read (it is made again too) and may be null.
void lrnBackward(const float* dy, const float* x, const float* y, const float* scale, const LrnGeom& g,
                 const LrnParams& p, float* dx);

// The path windows of at most 16 channels take under the active ISA level: "avx512" (for
// beta = 0.75 only) or "portable" (reported by backends()).
const char* lrnPathName();

}  // namespace ck::cpu
