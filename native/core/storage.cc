#include "storage.h"

#include <mutex>
#include <vector>

namespace ck {

namespace {
std::atomic<DeviceFreeFn> deviceFree{nullptr};
}

void setDeviceFree(DeviceFreeFn fn) { deviceFree.store(fn); }

LiveCounter& liveCounter(DeviceKind kind, int deviceIndex) {
  // Leaked on purpose (outlives static destruction); 64 devices of each kind is plenty.
  static LiveCounter* counters = new LiveCounter[2 * 64];
  int idx = (deviceIndex < 0 || deviceIndex >= 64) ? 63 : deviceIndex;
  return counters[int(kind) * 64 + idx];
}

std::shared_ptr<Storage> Storage::allocHost(size_t bytes, int deviceIndex) {
  auto s = std::make_shared<Storage>();
  s->ptr = hostAllocator().allocate(bytes, &s->rounded);
  s->bytes = bytes;
  s->kind = DeviceKind::Cpu;
  s->deviceIndex = deviceIndex;
  auto& c = liveCounter(s->kind, deviceIndex);
  c.count++;
  c.bytes += int64_t(bytes);
  return s;
}

Storage::~Storage() {
  if (!ptr) return;
  auto& c = liveCounter(kind, deviceIndex);
  c.count--;
  c.bytes -= int64_t(bytes);
  if (kind == DeviceKind::Cpu) hostAllocator().free(ptr, rounded);
  else if (DeviceFreeFn f = deviceFree.load()) f(ptr, rounded, deviceIndex);
}

}  // namespace ck
