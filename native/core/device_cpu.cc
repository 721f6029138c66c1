// CpuDevice: the device contract over a CpuStream (device_cpu.h).
#include "device_cpu.h"

#include <atomic>
#include <cstring>
#include <new>

namespace ck {

void CpuEvent::wait() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return done_; });
}

void CpuEvent::set() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

TensorRef CpuDevice::alloc(size_t bytes) {
  // An uninitialised buffer is an op's output: it counts against the stream's queued-bytes
  // bound until that op has run (ND_BUSY past it; CpuStream::enqueue).
  stream_.reserveOutput(bytes);
  return TensorRef{Storage::allocHost(bytes, index()), 0, bytes};
}

TensorRef CpuDevice::upload(const void* src, size_t bytes) {
  // Written on the calling thread: the new storage is not yet visible to any queued op.
  TensorRef r{Storage::allocHost(bytes, index()), 0, bytes};
  if (bytes) std::memcpy(r.data(), src, bytes);
  return r;
}

void CpuDevice::copyFrom(Device& src, const TensorRef& from, const TensorRef& to) {
  CK_CHECK(from.bytes == to.bytes, Code::Shape,
           "copyTo: " + std::to_string(from.bytes) + " bytes into " + std::to_string(to.bytes));
  // Only the source's backend knows how to read its memory in its own stream order.
  if (src.kind() != DeviceKind::Cpu) return src.copyOut(*this, from, to);
  auto copy = [from, to] {
    if (from.bytes) std::memmove(to.data(), from.data(), from.bytes);
  };
  if (&src == this) return run("copyTo", copy);  // in stream order; recorded too when capturing
  // On the source's executor, so the copy sees the source's queued writes and none queued later;
  // this stream then waits for it before its own later ops.
  refuseWhileCapturing("copyTo", src);
  src.run("copyTo", copy);
  waitEvent("copyTo", src.recordEvent("copyTo"));
}

void CpuDevice::read(const TensorRef& r, Bytes fn) {
  stream_.enqueueSignal([r, fn = std::move(fn)](std::optional<StreamError> err) {
    std::vector<char> bytes;
    if (!err) {
      try {
        bytes.assign(static_cast<const char*>(r.data()), static_cast<const char*>(r.data()) + r.bytes);
      } catch (const std::bad_alloc&) {
        err = StreamError{Code::OOM, "read: out of host memory for " + std::to_string(r.bytes) + " bytes"};
      }
    }
    fn(std::move(err), std::move(bytes));
  });
}

std::optional<StreamError> CpuDevice::readSync(const TensorRef& r, void* dst) {
  std::optional<StreamError> err = stream_.waitIdle();
  if (!err && r.bytes) std::memcpy(dst, r.data(), r.bytes);
  return err;
}

void CpuDevice::refuseEventsWhileCapturing(const char* op) {
  if (stream_.capturing())
    throw Error(Code::Arg, std::string(op) + ": " + name() +
                               " is capturing; an event recorded or waited on there would act only at a replay");
}

EventPtr CpuDevice::recordEvent(const char* op) {
  refuseEventsWhileCapturing(op);
  auto ev = std::make_shared<CpuEvent>();
  stream_.enqueue(op, [ev] { ev->set(); });
  return ev;
}

void CpuDevice::waitEvent(const char* op, EventPtr ev) {
  refuseEventsWhileCapturing(op);
  // Blocks this stream's executor (its later ops must wait anyway), never the caller.
  stream_.enqueue(op, [ev = std::move(ev)] { ev->wait(); });
}

CpuDevice& cpuDevice(int index, const char* op) {
  // Read without a lock once made: every op looks its device up.
  static std::atomic<CpuDevice*> ready[kMaxCpuStreams];
  static std::mutex mu;
  if (index < 0 || index >= kMaxCpuStreams)
    throw Error(Code::Arg, std::string(op) + ": cpu:" + std::to_string(index) +
                               " is outside cpu:0..cpu:" + std::to_string(kMaxCpuStreams - 1));
  if (CpuDevice* d = ready[index].load(std::memory_order_acquire)) return *d;
  std::lock_guard<std::mutex> lk(mu);
  if (CpuDevice* d = ready[index].load(std::memory_order_acquire)) return *d;
  auto* d = new CpuDevice(cpuStream(index));  // alive for the process, like its stream
  ready[index].store(d, std::memory_order_release);
  return *d;
}

}  // namespace ck
