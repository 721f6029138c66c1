// Page-locked host buffers for host<->device copies, one pool per device. A copy from pageable
// memory may make the calling (JS) thread wait for the whole stream to drain, which would stall
// the event loop behind the GPU; staged through pinned memory, cudaMemcpyAsync returns at once.
// Pinned memory is slow to allocate, so blocks are kept and reused: an upload's block becomes
// reusable when the stream has run its copy (an event), a download's when its bytes are taken.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace ck::cuda {

class PinnedPool {
 public:
  struct Block {
    char* ptr = nullptr;
    size_t bytes = 0;
    cudaEvent_t reusable = nullptr;  // recorded after the block's last queued copy
    bool held = false;
  };

  explicit PinnedPool(int device) : device_(device) {}
  // A block of at least `bytes` bytes, held by the caller; ND_OOM when pinned memory runs out.
  Block* acquire(size_t bytes);
  // Gives the block back once `stream` has run the copies queued on it so far (uploads).
  void releaseAfter(Block* b, cudaStream_t stream);
  // Gives the block back now (its copies are done: downloads whose bytes were read).
  void release(Block* b);

 private:
  int device_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Block>> blocks_;  // never freed: convkit keeps its caches
};

PinnedPool& pinnedPool(int device);

}  // namespace ck::cuda
