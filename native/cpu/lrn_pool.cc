#include "lrn_pool.h"

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "lrn.h"
#include "pool.h"

namespace ck::cpu {

namespace {

// Whether to go image by image (one image per task, serial inside: nested pool calls run on the
// calling thread) rather than run the two kernels over the whole batch, each split across the
// pool, through one scratch tensor: with fewer images than an even share for every thread
// (batch 1) the per-image split would leave threads idle.
bool perImage(int64_t N) {
  const int threads = threadPool().size();
  return !(N < threads || (N < 4 * threads && N % threads != 0));
}

}  // namespace

void lrnMaxPool2dForward(const float* x, const LrnParams& lrn, const Pool2dGeom& pool, float* y, int32_t* argmax) {
  const int64_t N = pool.N, inFloats = pool.C * pool.H * pool.W, outFloats = pool.C * pool.OH * pool.OW;
  if (N == 0) return;
  if (!perImage(N)) {
    Scratch mid(size_t(N * inFloats) * sizeof(float));
    lrnForward(x, LrnGeom{N, pool.C, pool.H, pool.W}, lrn, mid.as<float>(), nullptr);
    return maxPool2dForward(mid.as<float>(), pool, y, argmax);
  }
  Pool2dGeom one = pool;
  one.N = 1;
  threadPool().parallelFor(N, [&](int64_t n) {
    Scratch mid(size_t(inFloats) * sizeof(float));
    lrnForward(x + n * inFloats, LrnGeom{1, pool.C, pool.H, pool.W}, lrn, mid.as<float>(), nullptr);
    maxPool2dForward(mid.as<float>(), one, y + n * outFloats, argmax ? argmax + n * outFloats : nullptr);
  });
}

void maxPool2dLrnBackward(const float* dy, const int32_t* argmax, const float* x, const LrnParams& lrn,
                          const Pool2dGeom& pool, float* dx) {
  const int64_t N = pool.N, inFloats = pool.C * pool.H * pool.W, outFloats = pool.C * pool.OH * pool.OW;
  if (N == 0) return;
  if (!perImage(N)) {
    Scratch mid(size_t(N * inFloats) * sizeof(float));
    maxPool2dBackward(dy, argmax, pool, mid.as<float>());
    return lrnBackward(mid.as<float>(), x, nullptr, nullptr, LrnGeom{N, pool.C, pool.H, pool.W}, lrn, dx);
  }
  Pool2dGeom one = pool;
  one.N = 1;
  threadPool().parallelFor(N, [&](int64_t n) {
    Scratch mid(size_t(inFloats) * sizeof(float));
    maxPool2dBackward(dy + n * outFloats, argmax + n * outFloats, one, mid.as<float>());
    lrnBackward(mid.as<float>(), x + n * inFloats, nullptr, nullptr, LrnGeom{1, pool.C, pool.H, pool.W}, lrn,
                dx + n * inFloats);
  });
}

}  // namespace ck::cpu
