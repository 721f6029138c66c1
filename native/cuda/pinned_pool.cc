#include "pinned_pool.h"

#include <algorithm>
#include <string>

#include "../core/allocator.h"
#include "../core/errors.h"
#include "cuda_check.h"

namespace ck::cuda {

namespace {
// A small request (a fault word, a loss) must not tie up a large block, and a large one may
// reuse a block up to twice its size.
bool fits(size_t have, size_t need) { return have >= need && have <= std::max<size_t>(2 * need, 64 << 10); }
}  // namespace

PinnedPool::Block* PinnedPool::acquire(size_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  Block* best = nullptr;
  for (auto& b : blocks_) {
    if (b->held || !fits(b->bytes, bytes) || (best && best->bytes <= b->bytes)) continue;
    // Not yet reusable while an upload's copy is still queued (cudaErrorNotReady).
    if (cudaEventQuery(b->reusable) != cudaSuccess) continue;
    best = b.get();
  }
  if (best) {
    best->held = true;
    return best;
  }
  auto b = std::make_unique<Block>();
  b->bytes = CachingAllocator::sizeClass(std::max<size_t>(bytes, 256));
  check(cudaSetDevice(device_), "cudaSetDevice");
  void* p = nullptr;
  cudaError_t e = cudaHostAlloc(&p, b->bytes, cudaHostAllocPortable);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(e == cudaErrorMemoryAllocation ? Code::OOM : Code::Cuda,
                "cuda:" + std::to_string(device_) + ": a pinned host buffer of " + std::to_string(b->bytes) +
                    " bytes for a copy failed: " + cudaGetErrorString(e));
  }
  b->ptr = static_cast<char*>(p);
  e = cudaEventCreateWithFlags(&b->reusable, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    cudaFreeHost(p);
    throwCuda(e, "cudaEventCreate (pinned pool)");
  }
  b->held = true;
  blocks_.push_back(std::move(b));
  return blocks_.back().get();
}

void PinnedPool::releaseAfter(Block* b, cudaStream_t stream) {
  std::lock_guard<std::mutex> lk(mu_);
  // If the record fails, the event keeps its earlier (completed) state; the copy it would have
  // guarded was then not queued either, since the stream is unusable.
  if (cudaEventRecord(b->reusable, stream) != cudaSuccess) cudaGetLastError();
  b->held = false;
}

void PinnedPool::release(Block* b) {
  std::lock_guard<std::mutex> lk(mu_);
  b->held = false;
}

PinnedPool& pinnedPool(int device) {
  static PinnedPool** all = new PinnedPool*[64]();  // leaked on purpose, like the allocators
  static std::mutex mu;
  if (device < 0 || device >= 64) throw Error(Code::Arg, "cuda:" + std::to_string(device) + " is out of range");
  std::lock_guard<std::mutex> lk(mu);
  if (!all[device]) all[device] = new PinnedPool(device);
  return *all[device];
}

}  // namespace ck::cuda
