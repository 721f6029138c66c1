// im2col / col2im for NCHW images: the copy that turns a convolution into a GEMM.
// Column row r = (c*KH + kh)*KW + kw, column p = oh*OW + ow holds
// x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW], or 0 where that falls in the padding.
// im2col copies (exact, bit for bit); col2im is its adjoint and adds into the image.
#pragma once
#include <cstdint>
#include <string>

#include "conv.h"

namespace ck::cpu {

using ck::ColumnBlock;  // native/core/geometry.h

void im2colBlock(const float* x, const Conv2dGeom& g, const ColumnBlock& b, float* cols);
// Adds the block's columns back into x (overlapping windows sum up). With reluOut (laid out as x:
// the convolution's input, which a ReLU produced), each plane's sum comes out 0 where reluOut is
// not > 0: the ReLU's backward taken in the same pass.
void col2imBlock(const float* cols, const Conv2dGeom& g, const ColumnBlock& b, float* x,
                 const float* reluOut = nullptr);

// Whole batch, cols [N, C*KH*KW, OH*OW] (groups play no part in the layout).
void im2col(const float* x, const Conv2dGeom& g, float* cols);
// Adds cols [N, C*KH*KW, OH*OW] into x [N, C, H, W].
void col2im(const float* cols, const Conv2dGeom& g, float* x);

// The row-copy path the active ISA level (isa.h) selects: "avx512" or "portable" (same results,
// bit for bit).
const char* im2colPathName();

}  // namespace ck::cpu
