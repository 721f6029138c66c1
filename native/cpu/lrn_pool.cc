#include "lrn_pool.h"

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "lrn.h"
#include "pool.h"

namespace ck::cpu {

void lrnMaxPool2dForward(const float* x, const LrnParams& lrn, const Pool2dGeom& pool, float* y) {
  const int64_t N = pool.N, inFloats = pool.C * pool.H * pool.W, outFloats = pool.C * pool.OH * pool.OW;
  if (N == 0) return;
  const int threads = threadPool().size();
  // Fewer images than an even share for every thread (batch 1): the two kernels over the whole
  // batch, each split across the pool, through one scratch tensor.
  if (N < threads || (N < 4 * threads && N % threads != 0)) {
    Scratch mid(size_t(N * inFloats) * sizeof(float));
    lrnForward(x, LrnGeom{N, pool.C, pool.H, pool.W}, lrn, mid.as<float>(), nullptr);
    return maxPool2dForward(mid.as<float>(), pool, y, nullptr);
  }
  // One image per task, serial inside (nested pool calls run on the calling thread).
  Pool2dGeom one = pool;
  one.N = 1;
  threadPool().parallelFor(N, [&](int64_t n) {
    Scratch mid(size_t(inFloats) * sizeof(float));
    lrnForward(x + n * inFloats, LrnGeom{1, pool.C, pool.H, pool.W}, lrn, mid.as<float>(), nullptr);
    maxPool2dForward(mid.as<float>(), one, y + n * outFloats, nullptr);
  });
}

}  // namespace ck::cpu
