// The CPU implementation of the device contract: cpu:N is CpuStream N (stream.h), one executor
// thread running queued ops in order. All cpu:N share host memory, so any of them holds any host
// storage; ordering between two of them is an event (a flag the source's executor sets, which
// the destination's executor waits for).
#pragma once
#include <condition_variable>
#include <mutex>

#include "device.h"

namespace ck {

// An event of a CPU stream: set by that stream's executor when it reaches it.
class CpuEvent final : public Event {
 public:
  DeviceKind kind() const override { return DeviceKind::Cpu; }
  void wait() override;
  void set();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

class CpuDevice final : public Device {
 public:
  explicit CpuDevice(CpuStream& stream) : Device(DeviceKind::Cpu, stream.index()), stream_(stream) {}

  // The stream itself, for what only CPU streams have so far (capture and replay).
  CpuStream& stream() { return stream_; }

  bool holds(const Storage& s) const override { return s.kind == DeviceKind::Cpu; }
  TensorRef alloc(size_t bytes) override;
  TensorRef upload(const void* src, size_t bytes) override;
  void copyFrom(Device& src, const TensorRef& from, const TensorRef& to) override;
  void copyOut(Device& dst, const TensorRef& from, const TensorRef& to) override { dst.copyFrom(*this, from, to); }
  void read(const TensorRef& r, Bytes fn) override;
  void signal(Signal fn) override { stream_.enqueueSignal(std::move(fn)); }
  std::optional<StreamError> waitIdle() override { return stream_.waitIdle(); }
  std::optional<StreamError> readSync(const TensorRef& r, void* dst) override;
  int64_t pending() override { return stream_.pending(); }
  void run(const char* op, std::function<void()> kernel) override { stream_.enqueue(op, std::move(kernel)); }
  bool capturing() override { return stream_.capturing(); }
  EventPtr recordEvent(const char* op) override;
  void waitEvent(const char* op, EventPtr ev) override;

 private:
  void refuseEventsWhileCapturing(const char* op);
  CpuStream& stream_;
};

// cpu:index (ND_ARG outside [0, kMaxCpuStreams)), created with its stream on first use.
CpuDevice& cpuDevice(int index, const char* op);

}  // namespace ck
