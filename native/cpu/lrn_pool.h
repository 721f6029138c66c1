// Inference's LRN followed by a max pool (AlexNet's norm1 -> pool1, norm2 -> pool2) in one op:
// image by image, the LRN output lands in a thread's scratch, which the pool reads back while it
// is still in cache, so the whole LRN output never goes to memory and back. The values are
// lrnForward's and maxPool2dForward's, bit for bit. No argmax: there is no backward.
#pragma once

#include "../core/geometry.h"

namespace ck::cpu {

// y [N, C, OH, OW] = maxPool2d(lrn(x)); x [N, C, H, W] as pool.N .. pool.W say.
void lrnMaxPool2dForward(const float* x, const LrnParams& lrn, const Pool2dGeom& pool, float* y);

}  // namespace ck::cpu
