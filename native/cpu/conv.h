// 2-D convolution on NCHW float32 tensors, as im2col + SGEMM per group (Caffe's scheme).
// Weights are [OC, C/groups, KH, KW] like PyTorch. An optional fixed connection mask [OC, C/groups]
// of 0/1 floats (LeNet-5's C3 table) makes the effective weight w * mask.
// A CUDA twin (native/cuda/conv.cu) takes the same arguments plus its device context.
#pragma once
#include <cstdint>

#include "../core/geometry.h"

namespace ck::cpu {

using ck::Conv2dGeom;  // native/core/geometry.h, shared with native/cuda
using ck::convOutputSize;

// y = conv(x, w * mask) + bias. bias [OC] and mask [OC, C/groups] may be null.
void conv2dForward(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g, float* y);

// relu(conv2dForward(...)): the ReLU applied in the pass that adds the bias or scatters the GEMM
// output, instead of one more pass over y (inference: Sequential fuses Conv2d + ReLU in eval mode).
void conv2dForwardRelu(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                       float* y);

// The 2x2 / 2 max pool of conv2dForward's output (of conv2dForwardRelu's when relu is set):
// y [N, OC, OH / 2, OW / 2], bit for bit maxPool2dForward's values of it. The direct path pools
// straight out of its wide rows, so the full output is never written (inference: Sequential
// fuses Conv2d + ReLU + MaxPool2d(2) in eval mode on the CPU); the other paths run the two ops
// through a scratch buffer.
void conv2dForwardMaxPool2x2(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                             bool relu, float* y);

// Gradients of conv2dForward given dy [N, OC, OH, OW]. dx (may be null: not computed) is
// overwritten; dw is overwritten with the gradient of the masked weight (zero where mask is 0);
// db [OC] (may be null) is overwritten. reluInput: x is a ReLU's output and dx is also taken
// back through it (0 where x <= 0, as reluBackward), in the pass that writes dx where there is one.
void conv2dBackward(const float* dy, const float* x, const float* w, const float* mask, const Conv2dGeom& g, float* dx,
                    float* dw, float* db, bool reluInput = false);

// Upper bound on the scratch (column buffers) one conv call holds, in bytes: the batch is
// processed in chunks of images that fit (at least one image per chunk, so a single image too
// large for the cap still runs). Chunks are usually smaller still, sized for the caches.
// Process-wide; tests lower it to exercise chunking. setConvScratchBytes returns the old cap.
constexpr int64_t kDefaultConvScratchBytes = int64_t(64) << 20;
int64_t setConvScratchBytes(int64_t bytes);
int64_t convScratchBytes();

// Images per chunk that conv2dForward (forward) or conv2dBackward uses for this geometry
// (benchmarks reproduce the GEMMs from it; tests check that chunking happens).
int64_t conv2dImagesPerChunk(const Conv2dGeom& g, bool forward);

}  // namespace ck::cpu
