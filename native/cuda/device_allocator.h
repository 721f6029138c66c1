// Caching allocator for device memory, one per device (cudaMalloc/cudaFree synchronize and are
// slow). Stream-ordered reuse: a block freed on stream S goes back to a free list tagged with S
// and is handed out again at once to later work on S, which the stream runs after the freeing
// op's work. A block taken by another stream first waits (cudaStreamWaitEvent) for everything
// queued on S up to that moment, which includes the block's last use.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

#include "../core/allocator.h"

namespace ck::cuda {

class DeviceAllocator {
 public:
  explicit DeviceAllocator(int device) : device_(device) {}
  // A block of at least `bytes` bytes for use on `stream`; *rounded receives its size class.
  // ND_OOM (after returning the cache to the driver and trying once more) when it does not fit.
  void* allocate(size_t bytes, cudaStream_t stream, size_t* rounded);
  void free(void* p, size_t rounded, cudaStream_t stream);
  // Returns every cached block to the driver (synchronizes the device).
  void emptyCache();
  AllocatorStats stats();

 private:
  struct Block {
    void* ptr;
    cudaStream_t stream;
  };
  int device_;
  std::mutex mu_;
  std::map<size_t, std::vector<Block>> freeLists_;
  AllocatorStats stats_;
};

DeviceAllocator& deviceAllocator(int device);

}  // namespace ck::cuda
