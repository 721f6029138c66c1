#include "device_allocator.h"

#include <string>

#include "../core/errors.h"
#include "cuda_check.h"

namespace ck::cuda {

void* DeviceAllocator::allocate(size_t bytes, cudaStream_t stream, size_t* rounded) {
  size_t sz = CachingAllocator::sizeClass(bytes < 512 ? 512 : bytes);
  *rounded = sz;
  check(cudaSetDevice(device_), "cudaSetDevice");
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = freeLists_.find(sz);
    if (it != freeLists_.end() && !it->second.empty()) {
      auto& list = it->second;
      // Prefer a block last used on this stream: no cross-stream wait needed.
      size_t pick = list.size() - 1;
      for (size_t i = list.size(); i-- > 0;)
        if (list[i].stream == stream) {
          pick = i;
          break;
        }
      Block b = list[pick];
      list.erase(list.begin() + std::ptrdiff_t(pick));
      if (b.stream != stream) {
        cudaEvent_t ev;
        check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
        check(cudaEventRecord(ev, b.stream), "cudaEventRecord");
        check(cudaStreamWaitEvent(stream, ev, 0), "cudaStreamWaitEvent");
        cudaEventDestroy(ev);  // released once the wait has completed
      }
      stats_.cachedBytes -= int64_t(sz);
      stats_.liveBlocks++;
      stats_.liveBytes += int64_t(sz);
      if (stats_.liveBytes > stats_.peakBytes) stats_.peakBytes = stats_.liveBytes;
      return b.ptr;
    }
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, sz);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    emptyCache();
    e = cudaMalloc(&p, sz);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(e == cudaErrorMemoryAllocation ? Code::OOM : Code::Cuda, "cuda:" + std::to_string(device_) +
                                                                             ": allocating " + std::to_string(bytes) +
                                                                             " bytes failed: " + cudaGetErrorString(e));
  }
  std::lock_guard<std::mutex> lk(mu_);
  stats_.osAllocs++;
  stats_.liveBlocks++;
  stats_.liveBytes += int64_t(sz);
  if (stats_.liveBytes > stats_.peakBytes) stats_.peakBytes = stats_.liveBytes;
  return p;
}

void DeviceAllocator::free(void* p, size_t rounded, cudaStream_t stream) {
  if (!p) return;
  std::lock_guard<std::mutex> lk(mu_);
  stats_.liveBlocks--;
  stats_.liveBytes -= int64_t(rounded);
  stats_.cachedBytes += int64_t(rounded);
  freeLists_[rounded].push_back(Block{p, stream});
}

void DeviceAllocator::emptyCache() {
  std::lock_guard<std::mutex> lk(mu_);
  if (freeLists_.empty()) return;
  cudaSetDevice(device_);
  cudaDeviceSynchronize();  // cached blocks may still be read by queued work
  for (auto& kv : freeLists_)
    for (auto& b : kv.second) cudaFree(b.ptr);
  freeLists_.clear();
  stats_.cachedBytes = 0;
}

AllocatorStats DeviceAllocator::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

DeviceAllocator& deviceAllocator(int device) {
  // Leaked on purpose, like the host allocator; 64 devices is the limit everywhere in convkit.
  static DeviceAllocator** all = new DeviceAllocator*[64]();
  static std::mutex mu;
  if (device < 0 || device >= 64) throw Error(Code::Arg, "cuda:" + std::to_string(device) + " is out of range");
  std::lock_guard<std::mutex> lk(mu);
  if (!all[device]) all[device] = new DeviceAllocator(device);
  return *all[device];
}

}  // namespace ck::cuda
