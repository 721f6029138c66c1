#include "dropout.h"

#include "../core/philox.h"
#include "../core/thread_pool.h"

namespace ck::cpu {

namespace {
constexpr int64_t kGrain = 1 << 14;
}

void dropoutForward(const float* x, float* y, float* mask, int64_t n, float p, float scale, uint64_t seed,
                    uint64_t offset) {
  parallelRange(n, kGrain, [=](int64_t b, int64_t e) {
    int64_t i = b;
    // One Philox block yields four words: draw a block per 4 aligned elements, not per element.
    while (i < e) {
      uint64_t block = uint64_t(i) >> 2;
      Philox4 r = philoxBlock(seed, offset, block);
      int64_t end = int64_t(block * 4 + 4) < e ? int64_t(block * 4 + 4) : e;
      for (; i < end; i++) {
        float m = uniformFromWord(r.v[i & 3]) >= p ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
      }
    }
  });
}

void dropoutBackward(const float* dy, const float* mask, float* dx, int64_t n) {
  parallelRange(n, 1 << 16, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) dx[i] = dy[i] * mask[i];
  });
}

}  // namespace ck::cpu
