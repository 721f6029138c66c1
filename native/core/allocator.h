// Caching host allocator. Freshly mapped pages are ~3x slower to write than reused ones on our
// machines (DESIGN.md, Memory), so freed blocks go to size-class free lists and are handed out
// again instead of returning to the OS. Thread-safe: blocks are freed from the JS thread
// (dispose) and from stream executor threads (when a queued op drops the last reference).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace ck {

struct AllocatorStats {
  int64_t liveBlocks = 0;   // blocks handed out and not yet freed
  int64_t liveBytes = 0;    // their rounded sizes
  int64_t cachedBytes = 0;  // bytes held in free lists
  int64_t peakBytes = 0;    // highest liveBytes seen since the last resetPeak()
  int64_t osAllocs = 0;     // allocations that had to go to the OS
};

class CachingAllocator {
 public:
  explicit CachingAllocator(int64_t cacheLimitBytes) : cacheLimit_(cacheLimitBytes) {}
  // Returns a 64-byte aligned block of at least `bytes` bytes; *rounded receives the size class.
  void* allocate(size_t bytes, size_t* rounded);
  void free(void* p, size_t rounded);
  void emptyCache();
  AllocatorStats stats();
  void resetPeak();

  static size_t sizeClass(size_t bytes);

 private:
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> freeLists_;
  AllocatorStats stats_;
  int64_t cacheLimit_;
};

CachingAllocator& hostAllocator();

}  // namespace ck
