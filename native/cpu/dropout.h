// Dropout with a counter-based mask: element i is kept iff
//   uniformFromWord(philoxWord(seed, offset, i)) >= p
// so a (seed, offset) pair gives the same mask on every device and for any thread split.
// The mask is stored as float32 holding 0 or `scale`, which makes backward one multiply and lets
// the same backward serve both conventions (inverted: scale = 1/(1-p); the paper: scale = 1).
#pragma once
#include <cstdint>

namespace ck::cpu {

// mask[i] = keep(i) ? scale : 0;  y[i] = x[i] * mask[i].  x may alias y.
void dropoutForward(const float* x, float* y, float* mask, int64_t n, float p, float scale, uint64_t seed,
                    uint64_t offset);
// dx = dy * mask.  dy may alias dx.
void dropoutBackward(const float* dy, const float* mask, float* dx, int64_t n);

}  // namespace ck::cpu
