// Reference-counted tensor storage and the views that ops receive. A queued op captures
// TensorRefs by value, so the bytes outlive a JS dispose() until the op has run.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "allocator.h"

namespace ck {

enum class DeviceKind { Cpu = 0, Cuda = 1 };

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;    // requested size
  size_t rounded = 0;  // allocator size class
  DeviceKind kind = DeviceKind::Cpu;
  int deviceIndex = 0;

  static std::shared_ptr<Storage> allocHost(size_t bytes, int deviceIndex);
  // Device memory from cuda:deviceIndex's caching allocator. Defined in native/cuda (only the
  // CUDA addon has it); its blocks go back through the hook below.
  static std::shared_ptr<Storage> allocDevice(size_t bytes, int deviceIndex);
  ~Storage();
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Returns a device block to its allocator. The CPU addon has no device memory, so storage.cc
// cannot call the CUDA allocator directly: the CUDA backend installs this when it allocates.
using DeviceFreeFn = void (*)(void* ptr, size_t rounded, int deviceIndex);
void setDeviceFree(DeviceFreeFn fn);

// Counts per device of live Storage objects, for memory() and leak tests.
struct LiveCounter {
  std::atomic<int64_t> count{0};
  std::atomic<int64_t> bytes{0};
};
LiveCounter& liveCounter(DeviceKind kind, int deviceIndex);

// A window into a storage: what the JS tensor handle owns and what ops capture.
struct TensorRef {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes
  size_t bytes = 0;

  void* data() const { return static_cast<char*>(storage->ptr) + offset; }
  float* f32() const { return static_cast<float*>(data()); }
  int32_t* i32() const { return static_cast<int32_t*>(data()); }
};

}  // namespace ck
