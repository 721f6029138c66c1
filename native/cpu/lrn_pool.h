// LRN followed by a max pool (AlexNet's norm1 -> pool1, norm2 -> pool2) in one op, both ways:
// image by image, the LRN output (forward) or its gradient (backward) lands in a thread's
// scratch and is read back while it is still in cache, so that whole tensor never goes to memory
// and back. The values are lrnForward's and maxPool2dForward's (and maxPool2dBackward's and
// lrnBackward's), bit for bit: the same kernels run on each image.
#pragma once

#include <cstdint>

#include "../core/geometry.h"

namespace ck::cpu {

// y [N, C, OH, OW] = maxPool2d(lrn(x)); x [N, C, H, W] as pool.N .. pool.W say. argmax (may be
// null: inference) is the pool's, into the LRN output's planes, as maxPool2dForward writes it.
void lrnMaxPool2dForward(const float* x, const LrnParams& lrn, const Pool2dGeom& pool, float* y, int32_t* argmax);

// dx [N, C, H, W] = lrnBackward(maxPool2dBackward(dy, argmax), x) with the LRN output's scale
// recomputed from x (lrn.reluInput takes the ReLU before the LRN too). Throws ck::Error, as
// maxPool2dBackward does, for an argmax outside its plane.
void maxPool2dLrnBackward(const float* dy, const int32_t* argmax, const float* x, const LrnParams& lrn,
                          const Pool2dGeom& pool, float* dx);

}  // namespace ck::cpu
