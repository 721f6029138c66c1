// 2-D convolution on the device: native/cpu/conv.h's names, arguments and conventions (groups,
// optional fixed connection mask, dx/db may be null) plus the context. im2col + cuBLAS SGEMM,
// strided-batched over the images of a chunk.
#pragma once
#include <cstdint>

#include "../core/geometry.h"
#include "context.h"

namespace ck::cuda {

void conv2dForward(Ctx& ctx, const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                   float* y);
// relu(conv2dForward(...)), as the CPU twin. No fused epilogue on the GPU yet: the ReLU is one
// more in-place kernel on the same stream.
void conv2dForwardRelu(Ctx& ctx, const float* x, const float* w, const float* bias, const float* mask,
                       const Conv2dGeom& g, float* y);
// reluInput as on the CPU (x is a ReLU's output; dx also through it): here one more in-place pass.
void conv2dBackward(Ctx& ctx, const float* dy, const float* x, const float* w, const float* mask, const Conv2dGeom& g,
                    float* dx, float* dw, float* db, bool reluInput = false);

// Column buffers per call are capped at this many bytes (at least one image per chunk), like the
// CPU twin's cap; process-wide. The harness lowers it to exercise chunking. Returns the old cap.
constexpr int64_t kDefaultConvScratchBytes = int64_t(256) << 20;
int64_t setConvScratchBytes(int64_t bytes);

}  // namespace ck::cuda
