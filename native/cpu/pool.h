// 2-D pooling over NCHW planes: max (with its argmax), average and sum, forward and backward.
// Each kernel is a pure function of pointers and one geometry struct, so native/cuda/pool.cu can
// mirror these names and arguments.
//
//   x [N, C, H, W]  =>  y [N, C, OH, OW]
//   window (oh, ow) covers rows oh*SH - PH .. oh*SH - PH + KH - 1 (columns likewise); positions
//   outside the input are padding: -inf for max, 0 for sum and average.
#pragma once
#include <cstdint>

#include "../core/geometry.h"

namespace ck::cpu {

using ck::Pool2dGeom;  // native/core/geometry.h, shared with native/cuda

// y = max over each window; argmax = the winning position as an index h*W + w into the input
// plane (ties keep the first in row-major order; a NaN wins, as in PyTorch). argmax may be null
// (inference: no backward will route through it), which takes a values-only kernel where one
// exists and gives the same values.
void maxPool2dForward(const float* x, const Pool2dGeom& g, float* y, int32_t* argmax);
// dx = 0, then dx[argmax] += dy for every output (overlapping windows accumulate).
// Throws ck::Error if an argmax value lies outside the input plane.
void maxPool2dBackward(const float* dy, const int32_t* argmax, const Pool2dGeom& g, float* dx);

// Average with PyTorch's divisor: with countIncludePad the window clipped to the padded input,
// else the window clipped to the input itself.
void avgPool2dForward(const float* x, const Pool2dGeom& g, bool countIncludePad, float* y);
void avgPool2dBackward(const float* dy, const Pool2dGeom& g, bool countIncludePad, float* dx);

// The window sum (LeNet-5's subsampling; its trainable coefficient and bias live in the layer).
void sumPool2dForward(const float* x, const Pool2dGeom& g, float* y);
void sumPool2dBackward(const float* dy, const Pool2dGeom& g, float* dx);

// The path max pooling's all-inside windows take under the active ISA level: "avx512" or
// "portable" (reported by backends()).
const char* maxPoolPathName();

}  // namespace ck::cpu
