#include "allocator.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.h"

namespace ck {

namespace {
constexpr size_t kHugeAlign = size_t(2) << 20;
constexpr size_t kHugeMin = 4 * kHugeAlign;

// Large blocks start a "colour" past their 2 MiB boundary, a different one for each block in
// turn. Blocks that all began on a 2 MiB boundary put element i of every buffer an op streams
// in the same L2 set, and one step of SGD momentum (reads w, g, v, writes w, v) ran at half the
// bandwidth of a triad on an Intel Xeon with a 2 MiB 16-way L2 (78 ms against 34 ms for 61 M
// parameters; bench/RESULTS.md). Colours are 4 KiB + 64 B apart, so they differ in the cache
// line and in the page bits too, and 32 of them span one L2 way (128 KiB) and a little more.
constexpr size_t kColourStep = 4096 + 64;
constexpr size_t kColours = 32;
// A colour stays inside the block's first 2 MiB, so the block's start rounds down to its base.
static_assert((kColours - 1) * kColourStep < kHugeAlign, "a colour must stay inside the first 2 MiB");
std::atomic<size_t> nextColour{0};

bool isLarge(size_t bytes) { return bytes >= kHugeMin; }

void* osAlloc(size_t bytes) {
  if (!isLarge(bytes)) {
    void* p = nullptr;
    return posix_memalign(&p, 64, bytes) == 0 ? p : nullptr;
  }
  // Large blocks are 2 MiB aligned and asked for transparent huge pages: im2col buffers and
  // activations are streamed through and TLB misses show up in GEMM packing otherwise.
  const size_t colour = (nextColour.fetch_add(1, std::memory_order_relaxed) % kColours) * kColourStep;
  void* base = nullptr;
  if (posix_memalign(&base, kHugeAlign, bytes + colour) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  madvise(base, bytes + colour, MADV_HUGEPAGE);
#endif
  return static_cast<char*>(base) + colour;
}

// `bytes` is the block's size class, as allocate() rounded it.
void osFree(void* p, size_t bytes) {
  if (p && isLarge(bytes)) p = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kHugeAlign - 1));
  std::free(p);
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
    osFree(p, rounded);
    return;
  }
  freeLists_[rounded].push_back(p);
  stats_.cachedBytes += int64_t(rounded);
}

void CachingAllocator::emptyCache() {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& kv : freeLists_)
    for (void* p : kv.second) osFree(p, kv.first);
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
