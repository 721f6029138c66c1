// Target: the CPU side of every device-dependent step (queue, wait, read, allocate); the CUDA
// side lives in native/cuda/target_cuda.cc and is reached only in the CUDA addon.
#include "target.h"

#include <cstring>
#include <new>

#ifdef CONVKIT_CUDA
#include "target_cuda.h"
#endif

namespace ck {

namespace {

[[noreturn]] void noCuda(const char* op, int index) {
  throw Error(Code::NoCuda, std::string(op) + ": cuda:" + std::to_string(index) +
                                " needs the CUDA build of convkit (this is the CPU build)");
}

}  // namespace

std::string Target::name() const {
  return std::string(kind == DeviceKind::Cuda ? "cuda:" : "cpu:") + std::to_string(index);
}

bool Target::holds(const Storage& s) const {
  if (s.kind != kind) return false;
  return kind == DeviceKind::Cpu || s.deviceIndex == index;
}

Target targetOf(int64_t id, const char* op) {
  Target t;
  if (id >= 0 && id < kMaxCpuStreams) {
    t.kind = DeviceKind::Cpu;
    t.index = int(id);
    t.cpu = &cpuStream(int(id));
    return t;
  }
  if (id >= kCudaStreamBase && id < kCudaStreamBase + 64) {
    t.kind = DeviceKind::Cuda;
    t.index = int(id - kCudaStreamBase);
#ifdef CONVKIT_CUDA
    t.cuda = &cudaTargetContext(t.index, op);
    return t;
#else
    noCuda(op, t.index);
#endif
  }
  throw Error(Code::Arg, std::string(op) + ": stream id " + std::to_string(id) +
                             " names no device (cpu:0..63 are 0..63, cuda:N is " + std::to_string(kCudaStreamBase) +
                             "+N)");
}

void Target::signal(Signal fn) const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaSignal(*cuda, std::move(fn));
#endif
  cpu->enqueueSignal(std::move(fn));
}

void Target::read(const TensorRef& r, Bytes fn) const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaRead(*cuda, r, std::move(fn));
#endif
  cpu->enqueueSignal([r, fn = std::move(fn)](std::optional<StreamError> err) {
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

std::optional<StreamError> Target::waitIdle() const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaWaitIdle(*cuda);
#endif
  return cpu->waitIdle();
}

std::optional<StreamError> Target::readSync(const TensorRef& r, void* dst) const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaReadSync(*cuda, r, dst);
#endif
  std::optional<StreamError> err = cpu->waitIdle();
  if (!err && r.bytes) std::memcpy(dst, r.data(), r.bytes);
  return err;
}

int64_t Target::pending() const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaPending(*cuda);
#endif
  return cpu->pending();
}

TensorRef Target::alloc(size_t bytes) const {
#ifdef CONVKIT_CUDA
  if (cuda) return TensorRef{Storage::allocDevice(bytes, index), 0, bytes};
#endif
  // An uninitialised buffer is an op's output: it counts against the stream's queued-bytes
  // bound until that op has run (ND_BUSY past it; CpuStream::enqueue).
  cpu->reserveOutput(bytes);
  return TensorRef{Storage::allocHost(bytes, index), 0, bytes};
}

TensorRef Target::upload(const void* src, size_t bytes) const {
#ifdef CONVKIT_CUDA
  if (cuda) return cudaUpload(*cuda, src, bytes);
#endif
  // Written on the JS thread: the new storage is not yet visible to any queued op.
  TensorRef r{Storage::allocHost(bytes, index), 0, bytes};
  if (bytes) std::memcpy(r.data(), src, bytes);
  return r;
}

}  // namespace ck
