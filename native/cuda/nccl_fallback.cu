#include "context.h"
#include "cuda_check.h"
#include "device_scratch.h"
#include "elementwise.h"
#include "launch.h"
#include "nccl_fallback.h"

namespace ck::cuda {

namespace {

// Division, as the CPU engine does: the mean of n equal values is that value.
__global__ void divide_kernel(float* y, int64_t n, float d) { CK_GRID_STRIDE(i, n) y[i] = y[i] / d; }

float* rangeOf(const comm::Member& m, comm::Range r) { return m.tensor.f32() + r.offset; }

// `waiter` waits, on the GPU, for everything queued so far on `signaler` (nothing on one stream).
void streamWaits(Ctx& waiter, Ctx& signaler, const char* what) {
  if (waiter.stream() == signaler.stream()) return;
  signaler.makeCurrent();
  cudaEvent_t e;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), what);
  cudaError_t rec = cudaEventRecord(e, signaler.stream());
  waiter.makeCurrent();
  cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(waiter.stream(), e, 0) : rec;
  cudaEventDestroy(e);  // released once the wait is done with it
  check(wait, what);
}

// Copies n floats between members' devices on `on`'s stream.
void copyOn(Ctx& on, float* dst, int dstDevice, const float* src, int srcDevice, int64_t n, const char* what) {
  on.makeCurrent();
  const size_t bytes = size_t(n) * sizeof(float);
  check(dstDevice == srcDevice ? cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, on.stream())
                               : cudaMemcpyPeerAsync(dst, dstDevice, src, srcDevice, bytes, on.stream()),
        what);
}

}  // namespace

void fallbackAllReduce(const std::vector<comm::Member>& members, comm::Range range, comm::ReduceOp op) {
  const char* what = "allReduce (copy+reduce)";
  Ctx& root = *members[0].cuda;
  const int64_t n = range.length;
  if (n == 0) return;
  for (size_t r = 1; r < members.size(); r++) streamWaits(root, *members[r].cuda, what);
  float* acc = rangeOf(members[0], range);
  if (members.size() > 1) {
    // One staging buffer, reused member after member in stream order.
    DeviceScratch staged(root, size_t(n) * sizeof(float));
    for (size_t r = 1; r < members.size(); r++) {
      copyOn(root, staged.as<float>(), root.device(), rangeOf(members[r], range), members[r].cuda->device(), n, what);
      add(root, acc, staged.as<float>(), acc, n);
    }
  }
  if (op == comm::ReduceOp::Mean) {
    root.makeCurrent();
    divide_kernel<<<gridFor(n), kThreads, 0, root.stream()>>>(acc, n, float(members.size()));
    checkLaunch(what);
  }
  for (size_t r = 1; r < members.size(); r++)
    copyOn(root, rangeOf(members[r], range), members[r].cuda->device(), acc, root.device(), n, what);
  for (size_t r = 1; r < members.size(); r++) streamWaits(*members[r].cuda, root, what);
}

void fallbackBroadcast(const std::vector<comm::Member>& members, comm::Range range, int root) {
  const char* what = "broadcast (copy)";
  const comm::Member& from = members[size_t(root)];
  if (range.length == 0) return;
  for (size_t r = 0; r < members.size(); r++) {
    if (int(r) == root) continue;
    Ctx& to = *members[r].cuda;
    streamWaits(to, *from.cuda, what);
    copyOn(to, rangeOf(members[r], range), to.device(), rangeOf(from, range), from.cuda->device(), range.length, what);
    // The root's later ops must not overwrite its range while this copy still reads it.
    streamWaits(*from.cuda, to, what);
  }
}

}  // namespace ck::cuda
