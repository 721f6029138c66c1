// Storage::allocDevice: device tensors' bytes come from the device's caching allocator and are
// used on that device's stream; the free hook returns them to the same free lists.
#include "../core/storage.h"

#include "context.h"
#include "device_allocator.h"

namespace ck {

namespace {
void freeDeviceBlock(void* ptr, size_t rounded, int deviceIndex) {
  // Runs inside ~Storage, which must not throw: a failure here (the runtime already torn down
  // at process exit) leaks the block instead of terminating the process.
  try {
    cuda::deviceAllocator(deviceIndex).free(ptr, rounded, cuda::deviceContext(deviceIndex).stream());
  } catch (...) {}
}
}  // namespace

std::shared_ptr<Storage> Storage::allocDevice(size_t bytes, int deviceIndex) {
  setDeviceFree(&freeDeviceBlock);
  cuda::Ctx& ctx = cuda::deviceContext(deviceIndex);
  auto s = std::make_shared<Storage>();
  s->ptr = cuda::deviceAllocator(deviceIndex).allocate(bytes, ctx.stream(), &s->rounded);
  s->bytes = bytes;
  s->kind = DeviceKind::Cuda;
  s->deviceIndex = deviceIndex;
  auto& c = liveCounter(s->kind, deviceIndex);
  c.count++;
  c.bytes += int64_t(bytes);
  return s;
}

}  // namespace ck
