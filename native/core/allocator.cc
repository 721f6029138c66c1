#include "allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.h"

namespace ck {

namespace {
constexpr size_t kHugeAlign = size_t(2) << 20;

void* osAlloc(size_t bytes) {
  // Large blocks are 2 MiB aligned and asked for transparent huge pages: im2col buffers and
  // activations are streamed through and TLB misses show up in GEMM packing otherwise.
  size_t align = bytes >= 4 * kHugeAlign ? kHugeAlign : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  if (align == kHugeAlign) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}
}  // namespace

// Size classes: multiples of 64 up to 4 KiB, then four classes per power of two
// (2^k, 1.25, 1.5, 1.75 x 2^k): at most 25% waste and good reuse across similar shapes.
size_t CachingAllocator::sizeClass(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= 4096) return (bytes + 63) & ~size_t(63);
  size_t p = size_t(1) << (63 - __builtin_clzll(bytes));
  size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes, size_t* rounded) {
  size_t sz = sizeClass(bytes);
  *rounded = sz;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = freeLists_.find(sz);
    if (it != freeLists_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.cachedBytes -= int64_t(sz);
      stats_.liveBlocks++;
      stats_.liveBytes += int64_t(sz);
      if (stats_.liveBytes > stats_.peakBytes) stats_.peakBytes = stats_.liveBytes;
      return p;
    }
  }
  void* p = osAlloc(sz);
  if (!p) {
    emptyCache();  // give cached blocks back and try once more before reporting OOM
    p = osAlloc(sz);
  }
  if (!p) throw Error(Code::OOM, "host allocation of " + std::to_string(bytes) + " bytes failed");
  std::lock_guard<std::mutex> lk(mu_);
  stats_.osAllocs++;
  stats_.liveBlocks++;
  stats_.liveBytes += int64_t(sz);
  if (stats_.liveBytes > stats_.peakBytes) stats_.peakBytes = stats_.liveBytes;
  return p;
}

void CachingAllocator::free(void* p, size_t rounded) {
  if (!p) return;
  std::lock_guard<std::mutex> lk(mu_);
  stats_.liveBlocks--;
  stats_.liveBytes -= int64_t(rounded);
  if (stats_.cachedBytes + int64_t(rounded) > cacheLimit_) {
    std::free(p);
    return;
  }
  freeLists_[rounded].push_back(p);
  stats_.cachedBytes += int64_t(rounded);
}

void CachingAllocator::emptyCache() {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& kv : freeLists_)
    for (void* p : kv.second) std::free(p);
  freeLists_.clear();
  stats_.cachedBytes = 0;
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

void CachingAllocator::resetPeak() {
  std::lock_guard<std::mutex> lk(mu_);
  stats_.peakBytes = stats_.liveBytes;
}

CachingAllocator& hostAllocator() {
  // Leaked on purpose: stream threads may still free blocks while static destructors run.
  static CachingAllocator* a = [] {
    int64_t limit = int64_t(4) << 30;
    if (const char* s = std::getenv("CONVKIT_CPU_CACHE_LIMIT_MB")) limit = std::atoll(s) << 20;
    return new CachingAllocator(limit);
  }();
  return *a;
}

}  // namespace ck
