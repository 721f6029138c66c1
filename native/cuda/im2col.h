// im2col / col2im on the device, with native/cpu/im2col.h's layout, names and arguments plus the
// context. im2col is a copy and must equal the CPU's bit for bit; col2im gathers each input
// element's contributions in the CPU's order (row r ascending), so it matches exactly as well.
#pragma once
#include <cstdint>

#include "../core/geometry.h"
#include "context.h"

namespace ck::cuda {

// [N, C, H, W] => cols[r*rowStride + i*imageStride + p], r = (c*KH + kh)*KW + kw, p = oh*OW + ow
void im2colBlock(Ctx& ctx, const float* x, const Conv2dGeom& g, const ColumnBlock& b, float* cols);
// Adds the block's columns back into x.
void col2imBlock(Ctx& ctx, const float* cols, const Conv2dGeom& g, const ColumnBlock& b, float* x);

void im2col(Ctx& ctx, const float* x, const Conv2dGeom& g, float* cols);
void col2im(Ctx& ctx, const float* cols, const Conv2dGeom& g, float* x);

}  // namespace ck::cuda
