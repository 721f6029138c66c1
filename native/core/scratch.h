// Temporary kernel workspace (im2col columns, packed GEMM panels) drawn from the caching
// allocator, so that large buffers are reused pages, never a fresh map (DESIGN.md, Memory).
#pragma once
#include <cstddef>

#include "allocator.h"

namespace ck {

class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes) { ptr_ = hostAllocator().allocate(bytes, &rounded_); }
  ~Scratch() { hostAllocator().free(ptr_, rounded_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_;
  size_t bytes_;
  size_t rounded_;
};

}  // namespace ck
