// The CUDA implementation of the device contract (native/core/device.h): cuda:N is the in-order
// stream of cuda::Ctx N. Kernels launch from the calling thread onto that stream; waits go
// through the device's waiter thread (stream_waiter.h); host bytes are staged in pinned memory
// (pinned_pool.h) so no copy makes the JS thread wait for the GPU. No Node-API here.
#pragma once
#include "../core/device.h"
#include "context.h"

namespace ck::cuda {

// A point in a CUDA stream (cudaEventRecord). Another CUDA stream waits on it inside the GPU
// (cudaStreamWaitEvent); a CPU executor waits with a blocking-sync event, asleep.
class CudaEvent final : public Event {
 public:
  CudaEvent(Ctx& ctx, const char* op);  // recorded on ctx's stream now
  ~CudaEvent() override;
  DeviceKind kind() const override { return DeviceKind::Cuda; }
  void wait() override;
  cudaEvent_t event() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(Ctx& ctx) : Device(DeviceKind::Cuda, ctx.device()), ctx_(ctx) {}
  Ctx& ctx() { return ctx_; }

  bool holds(const Storage& s) const override { return s.kind == DeviceKind::Cuda && s.deviceIndex == index(); }
  TensorRef alloc(size_t bytes) override;
  TensorRef upload(const void* src, size_t bytes) override;
  void copyFrom(Device& src, const TensorRef& from, const TensorRef& to) override;
  void copyOut(Device& dst, const TensorRef& from, const TensorRef& to) override;
  void read(const TensorRef& r, Bytes fn) override;
  void signal(Signal fn) override;
  std::optional<StreamError> waitIdle() override;
  std::optional<StreamError> readSync(const TensorRef& r, void* dst) override;
  int64_t pending() override;
  void run(const char* op, std::function<void()> kernel) override;
  EventPtr recordEvent(const char* op) override;
  void waitEvent(const char* op, EventPtr ev) override;

 private:
  Ctx& ctx_;
};

// Makes cuda:N known to ck::device() (called once at addon load, before any op).
void registerDevices();
// The kernel context of a CUDA device (native/napi/dispatch.h hands it to the kernels).
Ctx& contextOf(Device& d);

}  // namespace ck::cuda
