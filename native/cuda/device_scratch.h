// Temporary device workspace (column buffers, per-row partial sums) from the device's caching
// allocator, returned at scope end: stream order makes the block safe to reuse at once.
#pragma once
#include <cstddef>

#include "context.h"
#include "device_allocator.h"

namespace ck::cuda {

class DeviceScratch {
 public:
  DeviceScratch(Ctx& ctx, size_t bytes) : ctx_(ctx) {
    ptr_ = deviceAllocator(ctx.device()).allocate(bytes, ctx.stream(), &rounded_);
  }
  ~DeviceScratch() { deviceAllocator(ctx_.device()).free(ptr_, rounded_, ctx_.stream()); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  Ctx& ctx_;
  void* ptr_;
  size_t rounded_;
};

}  // namespace ck::cuda
