#include "channel_affine.h"

#include "../core/thread_pool.h"

namespace ck::cpu {

void channelAffineForward(const float* x, const float* a, const float* b, float* y, int64_t N, int64_t C, int64_t HW) {
  parallelRange(N * C, (1 << 14) / (HW + 1) + 1, [=](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      int64_t c = p % C;
      const float* xs = x + p * HW;
      float* ys = y + p * HW;
      for (int64_t i = 0; i < HW; i++) ys[i] = a[c] * xs[i] + b[c];
    }
  });
}

void channelAffineBackward(const float* dy, const float* x, const float* a, float* dx, float* da, float* db, int64_t N,
                           int64_t C, int64_t HW) {
  // Parallel over channels so that each thread owns its da[c] and db[c] (no reduction races).
  parallelRange(C, 1, [=](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double sa = 0, sb = 0;
      for (int64_t n = 0; n < N; n++) {
        const float* d = dy + (n * C + c) * HW;
        const float* xs = x + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; i++) {
          sa += double(d[i]) * xs[i];
          sb += d[i];
        }
        if (dx) {
          float* o = dx + (n * C + c) * HW;
          for (int64_t i = 0; i < HW; i++) o[i] = a[c] * d[i];
        }
      }
      da[c] = float(sa);
      db[c] = float(sb);
    }
  });
}

}  // namespace ck::cpu
