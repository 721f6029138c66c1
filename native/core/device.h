// The device contract (DESIGN.md): the one place that says what a device does. A device is an
// in-order stream of operations; everything below is queued on it from the JS thread and
// returns at once, except the two blocking forms (waitIdle, readSync) that dataSync() and
// synchronizeSync() ask for. Two implementations: a CPU stream (device_cpu.h, around
// CpuStream) and a CUDA stream (native/cuda/device_cuda.h). A new backend is one more
// implementation registered with setDeviceProvider, not more #ifdefs.
//
// Kernels do not go through a virtual call per argument list: run() takes a closure already
// bound to its arguments, and native/napi/dispatch.h builds that closure once per op for either
// device's kernel context (the kernels are found by their context type).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage.h"
#include "stream.h"

namespace ck {

class Device;

// Something that has happened, or will, on one device's stream: recorded by recordEvent() after
// everything queued there so far, waited on by any device (waitEvent), which is how two devices
// are ordered without the JS thread in between.
class Event {
 public:
  virtual ~Event() = default;
  // The kind of device that recorded it: a CUDA device waits on a CUDA event inside its stream.
  virtual DeviceKind kind() const = 0;
  // Blocks the calling native thread (a CPU executor, a CUDA host callback) until the event has
  // happened. Never called on the JS thread.
  virtual void wait() = 0;
};
using EventPtr = std::shared_ptr<Event>;

// Collectives over a group of devices of one kind. Declared here so a device has a place in
// them; native/comm implements the engines (shared memory across cpu:N streams; NCCL or a
// copy+reduce fallback across cuda:N) and registers a factory per kind with
// setCollectivesFactory at addon load. Each call queues one share per device on that device's
// stream, in the same order on every stream, and returns at once.
enum class ReduceOp : int { Sum = 0, Mean = 1 };
class Collectives {
 public:
  virtual ~Collectives() = default;
  // What backends() reports: "shared-memory", "nccl 2.30.4", "fallback: copy+reduce (why)".
  virtual std::string describe() = 0;
  // buffers[i] lives on devices[i] and holds float32; elements [offset, offset + length) of each
  // become the reduction over all of them, in each device's stream order.
  virtual void allReduce(const std::vector<TensorRef>& buffers, int64_t offset, int64_t length, ReduceOp op) = 0;
  // Those elements of every buffer become a copy of buffers[root]'s.
  virtual void broadcast(const std::vector<TensorRef>& buffers, int64_t offset, int64_t length, size_t root) = 0;
};
using CollectivesFactory = std::unique_ptr<Collectives> (*)(const std::vector<Device*>& devices);

class Device {
 public:
  // A wait's callback runs on a native thread (the CPU executor or the CUDA waiter) once
  // everything queued before it has run, with the first error since the previous wait.
  using Signal = std::function<void(std::optional<StreamError>)>;
  using Bytes = std::function<void(std::optional<StreamError>, std::vector<char>&&)>;

  Device(DeviceKind kind, int index) : kind_(kind), index_(index) {}
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  DeviceKind kind() const { return kind_; }
  int index() const { return index_; }
  std::string name() const;  // "cpu:0", "cuda:1"

  // Whether this device's kernels may read a storage's bytes.
  virtual bool holds(const Storage& s) const = 0;

  // --- memory -----------------------------------------------------------------------------
  // Uninitialised storage for the output of an op about to be queued here.
  virtual TensorRef alloc(size_t bytes) = 0;
  // A copy of host bytes, in stream order; `src` may be reused as soon as this returns.
  virtual TensorRef upload(const void* src, size_t bytes) = 0;
  // Copies `from` (on `src`, any device) into `to` (on this device), after everything queued on
  // `src` so far and before anything queued later on this device; writes queued later on `src`
  // do not reach the copy. Never waits on the calling (JS) thread.
  // Each backend implements copies from its own kind and from the CPU; a copy from another kind
  // to the CPU goes to that kind's copyOut (only it can read its memory in its stream order).
  virtual void copyFrom(Device& src, const TensorRef& from, const TensorRef& to) = 0;
  // The same copy asked of the source: `dst` is the destination device.
  virtual void copyOut(Device& dst, const TensorRef& from, const TensorRef& to) = 0;

  // --- reading back -----------------------------------------------------------------------
  // A copy of the bytes as they are once everything queued before this call has run.
  virtual void read(const TensorRef& r, Bytes fn) = 0;
  virtual void signal(Signal fn) = 0;
  // Blocking forms for dataSync() / synchronizeSync(): the calling thread waits.
  virtual std::optional<StreamError> waitIdle() = 0;
  virtual std::optional<StreamError> readSync(const TensorRef& r, void* dst) = 0;
  // Work not yet done (CPU: ops queued or running; CUDA: waits in flight, +1 while busy).
  virtual int64_t pending() = 0;

  // --- ops and ordering -------------------------------------------------------------------
  // Runs an op whose arguments are bound in `kernel`: queued on the CPU executor, launched now
  // (asynchronously on its stream) on a GPU. A failure that can be seen at once is thrown here
  // naming `op` and the device; later ones surface at the next wait.
  virtual void run(const char* op, std::function<void()> kernel) = 0;
  // Whether ops queued now are recorded for a later replay instead of run (CPU capture). Events
  // are refused then (one recorded would fire only at a replay), and so are copies.
  virtual bool capturing() { return false; }
  // ND_ARG naming `op` when this device or `other` is capturing: a copy between them needs events.
  void refuseWhileCapturing(const char* op, Device& other);
  // An event that happens once everything queued here so far has run.
  virtual EventPtr recordEvent(const char* op) = 0;
  // Nothing queued here after this call runs before `ev` has happened (ev may be another
  // device's). A CPU stream blocks its own executor thread, never the JS thread.
  virtual void waitEvent(const char* op, EventPtr ev) = 0;

 private:
  DeviceKind kind_;
  int index_;
};

// The device `kind`:`index`: CPU devices are built in; other kinds exist once their backend has
// registered a provider (the CUDA addon does at load). `op` names the caller in errors:
// ND_NO_CUDA for a kind this build lacks, whatever the provider throws otherwise.
Device& device(DeviceKind kind, int index, const char* op);
using DeviceProvider = Device& (*)(int index, const char* op);
void setDeviceProvider(DeviceKind kind, DeviceProvider provider);

// The collectives engine for `devices` (all of one kind), or ND_ARG naming the kind when
// native/comm has registered none for it.
std::unique_ptr<Collectives> collectives(const std::vector<Device*>& devices, const char* op);
void setCollectivesFactory(DeviceKind kind, CollectivesFactory factory);

}  // namespace ck
