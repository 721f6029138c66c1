// The device an op runs on, read once from the binding's stream argument. Every op binding reads
// and checks its arguments once, then hands two closures to run(): the CPU one is queued on the
// CPU stream's executor (as before), the CUDA one is called at once on the JS thread and launches
// asynchronously on the device's stream (DESIGN.md: devices are in-order streams).
//
// Stream ids: 0..63 are cpu:0..cpu:63; kCudaStreamBase + N is cuda:N (lib/tensor/device.ts).
// Only the CUDA addon (built with CONVKIT_CUDA) knows CUDA devices: in the CPU addon a CUDA id is
// ND_NO_CUDA, the CUDA closures are never compiled (CK_ON_CUDA expands to nullptr), and no
// CUDA header is included anywhere.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/errors.h"
#include "../core/storage.h"
#include "../core/stream.h"

namespace ck {

namespace cuda {
class Ctx;
}

constexpr int64_t kCudaStreamBase = 256;

#ifdef CONVKIT_CUDA
#define CK_ON_CUDA(...) __VA_ARGS__
#else
#define CK_ON_CUDA(...) nullptr
#endif

struct Target {
  DeviceKind kind = DeviceKind::Cpu;
  int index = 0;
  CpuStream* cpu = nullptr;   // set for cpu:N
  cuda::Ctx* cuda = nullptr;  // set for cuda:N (CUDA addon only)

  std::string name() const;
  // Whether this device's kernels may read a tensor's bytes: host memory for any cpu stream (the
  // streams share it), device memory of this very GPU for cuda:N.
  bool holds(const Storage& s) const;

  // CPU: queues onCpu on the stream. CUDA: calls onCuda(ctx) now; it launches asynchronously on
  // ctx's stream, and a launch failure is thrown here naming the op and the device.
  template <class CpuFn, class CudaFn>
  void run(const char* op, CpuFn&& onCpu, CudaFn&& onCuda) const {
    if (cpu) {
      cpu->enqueue(op, std::forward<CpuFn>(onCpu));
      return;
    }
    if constexpr (std::is_null_pointer_v<std::decay_t<CudaFn>>) {
      throw Error(Code::NoCuda, std::string(op) + ": " + name() + " needs the CUDA build of convkit");
    } else {
      try {
        onCuda(*cuda);
      } catch (const Error& e) { throw Error(e.code(), std::string(op) + " on " + name() + ": " + e.what()); }
    }
  }

  // Waits. A wait's callback runs on a native thread (the CPU executor or the CUDA waiter) once
  // everything queued before it has run, with the first error since the previous wait.
  using Signal = std::function<void(std::optional<StreamError>)>;
  using Bytes = std::function<void(std::optional<StreamError>, std::vector<char>&&)>;
  void signal(Signal fn) const;
  // A copy of the tensor's bytes as they are once everything queued before this call has run.
  void read(const TensorRef& r, Bytes fn) const;
  // Blocking forms for dataSync()/synchronizeSync(): the JS thread waits.
  std::optional<StreamError> waitIdle() const;
  std::optional<StreamError> readSync(const TensorRef& r, void* dst) const;
  // CPU: ops queued or running. CUDA: waits in flight, plus 1 while the stream is busy.
  int64_t pending() const;

  // Storage on this device: uninitialised, or a copy of host bytes.
  TensorRef alloc(size_t bytes) const;
  TensorRef upload(const void* src, size_t bytes) const;
};

// The target of a stream id; `op` names the binding in errors (ND_ARG for a bad id, ND_NO_CUDA
// for a CUDA id in the CPU build or on a machine without that GPU).
Target targetOf(int64_t streamId, const char* op);

}  // namespace ck
