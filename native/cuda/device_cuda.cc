// CudaDevice: the device contract on a CUDA stream (device_cuda.h).
#include "device_cuda.h"

#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <new>

#include "cuda_check.h"
#include "pinned_pool.h"
#include "stream_waiter.h"

namespace ck::cuda {

namespace {

StreamError asStreamError(const Error& e) { return StreamError{e.code(), e.what()}; }

// The blocking forms wait on the same queue as the async ones, so a fault is reported once
// whichever form sees it first.
std::optional<StreamError> waitFor(Ctx& ctx, const char* op, const void* src, size_t n, void* dst) {
  auto result = std::make_shared<std::promise<std::optional<StreamError>>>();
  std::future<std::optional<StreamError>> f = result->get_future();
  try {
    auto done = [result, dst](std::optional<StreamError> err, const char* bytes, size_t k) {
      if (!err && k) std::memcpy(dst, bytes, k);
      result->set_value(std::move(err));
    };
    streamWaiter(ctx).enqueue(op, src, n, std::move(done));
  } catch (const Error& e) { return asStreamError(e); }
  return f.get();
}

// A host function on a CUDA stream that waits for another device's event: the stream's later
// work starts after it. It blocks CUDA's callback thread, never the JS thread.
void CUDART_CB waitOnHost(void* data) {
  std::unique_ptr<EventPtr> ev(static_cast<EventPtr*>(data));
  (*ev)->wait();
}

}  // namespace

CudaEvent::CudaEvent(Ctx& ctx, const char* op) {
  ctx.makeCurrent();
  // Blocking sync: a CPU executor waiting on it sleeps instead of spinning a core.
  check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming | cudaEventBlockingSync), op);
  cudaError_t e = cudaEventRecord(event_, ctx.stream());
  if (e != cudaSuccess) {
    cudaEventDestroy(event_);
    check(e, op);
  }
}

CudaEvent::~CudaEvent() {
  if (event_) cudaEventDestroy(event_);
}

void CudaEvent::wait() {
  // A failure here is the stream's own (a faulted kernel): its next wait reports it.
  if (cudaEventSynchronize(event_) != cudaSuccess) cudaGetLastError();
}

TensorRef CudaDevice::alloc(size_t bytes) { return TensorRef{Storage::allocDevice(bytes, index()), 0, bytes}; }

TensorRef CudaDevice::upload(const void* src, size_t bytes) {
  TensorRef r{Storage::allocDevice(bytes, index()), 0, bytes};
  if (!bytes) return r;
  PinnedPool& pool = pinnedPool(index());
  PinnedPool::Block* b = pool.acquire(bytes);
  std::memcpy(b->ptr, src, bytes);
  ctx_.makeCurrent();
  cudaError_t e = cudaMemcpyAsync(r.data(), b->ptr, bytes, cudaMemcpyHostToDevice, ctx_.stream());
  pool.releaseAfter(b, ctx_.stream());
  check(e, "fromBytes: copying to the device");
  return r;
}

void CudaDevice::copyFrom(Device& src, const TensorRef& from, const TensorRef& to) {
  CK_CHECK(from.bytes == to.bytes, Code::Shape,
           "copyTo: " + std::to_string(from.bytes) + " bytes into " + std::to_string(to.bytes));
  const size_t n = from.bytes;
  if (n == 0) return;
  refuseWhileCapturing("copyTo", src);
  ctx_.makeCurrent();
  cudaStream_t s = ctx_.stream();
  if (src.kind() == DeviceKind::Cpu) {
    // Staged through pinned memory on the source's executor (so the copy sees the source's
    // queued writes and none queued later); this stream waits for it, then uploads.
    PinnedPool& pool = pinnedPool(index());
    PinnedPool::Block* b = pool.acquire(n);
    try {
      src.run("copyTo", [b, from] { std::memcpy(b->ptr, from.data(), from.bytes); });
      waitEvent("copyTo", src.recordEvent("copyTo"));
    } catch (...) {
      pool.release(b);  // nothing on this stream reads it yet
      throw;
    }
    cudaError_t e = cudaMemcpyAsync(to.data(), b->ptr, n, cudaMemcpyHostToDevice, s);
    pool.releaseAfter(b, s);
    check(e, "copyTo: copying to " + name());
    return;
  }
  if (src.kind() != DeviceKind::Cuda)
    throw Error(Code::Internal, "copyTo: " + name() + " cannot copy from " + src.name());
  if (&src == this) {
    check(cudaMemcpyAsync(to.data(), from.data(), n, cudaMemcpyDeviceToDevice, s), "copyTo");
    return;
  }
  // Another GPU: after its queued writes, by a peer copy on this stream; the source then waits
  // for the copy before its own later writes (which could otherwise change the bytes mid-copy).
  waitEvent("copyTo", src.recordEvent("copyTo"));
  check(cudaMemcpyPeerAsync(to.data(), index(), from.data(), src.index(), n, s),
        "copyTo: " + src.name() + " to " + name());
  src.waitEvent("copyTo", recordEvent("copyTo"));
}

void CudaDevice::copyOut(Device& dst, const TensorRef& from, const TensorRef& to) {
  if (dst.kind() != DeviceKind::Cpu) return dst.copyFrom(*this, from, to);
  CK_CHECK(from.bytes == to.bytes, Code::Shape,
           "copyTo: " + std::to_string(from.bytes) + " bytes into " + std::to_string(to.bytes));
  const size_t n = from.bytes;
  if (n == 0) return;
  refuseWhileCapturing("copyTo", dst);
  // Downloaded into pinned memory in this stream's order; the host stream waits for that and
  // copies the bytes out on its executor before its own later ops.
  ctx_.makeCurrent();
  PinnedPool& pool = pinnedPool(index());
  PinnedPool::Block* b = pool.acquire(n);
  cudaError_t e = cudaMemcpyAsync(b->ptr, from.data(), n, cudaMemcpyDeviceToHost, ctx_.stream());
  if (e != cudaSuccess) {
    pool.releaseAfter(b, ctx_.stream());
    check(e, "copyTo: copying from " + name());
  }
  try {
    dst.waitEvent("copyTo", recordEvent("copyTo"));
    const int device = index();
    dst.run("copyTo", [b, to, device] {
      std::memcpy(to.data(), b->ptr, to.bytes);
      pinnedPool(device).release(b);
    });
  } catch (...) {
    pool.releaseAfter(b, ctx_.stream());
    throw;
  }
}

void CudaDevice::signal(Signal fn) {
  try {
    streamWaiter(ctx_).enqueue("synchronize", nullptr, 0,
                               [fn](std::optional<StreamError> err, const char*, size_t) { fn(std::move(err)); });
  } catch (const Error& e) {
    // Reported through the wait itself (its promise rejects), as a refused CPU signal is.
    fn(asStreamError(e));
  }
}

void CudaDevice::read(const TensorRef& r, Bytes fn) {
  try {
    streamWaiter(ctx_).enqueue(
        "read", r.data(), r.bytes, [fn](std::optional<StreamError> err, const char* bytes, size_t n) {
          std::vector<char> out;
          if (!err) {
            try {
              out.assign(bytes, bytes + n);
            } catch (const std::bad_alloc&) {
              err = StreamError{Code::OOM, "read: out of host memory for " + std::to_string(n) + " bytes"};
            }
          }
          fn(std::move(err), std::move(out));
        });
  } catch (const Error& e) { fn(asStreamError(e), {}); }
}

std::optional<StreamError> CudaDevice::waitIdle() { return waitFor(ctx_, "synchronizeSync", nullptr, 0, nullptr); }

std::optional<StreamError> CudaDevice::readSync(const TensorRef& r, void* dst) {
  return waitFor(ctx_, "readSync", r.data(), r.bytes, dst);
}

int64_t CudaDevice::pending() {
  int64_t busy = cudaStreamQuery(ctx_.stream()) == cudaErrorNotReady ? 1 : 0;
  return streamWaiter(ctx_).pending() + busy;
}

void CudaDevice::run(const char* op, std::function<void()> kernel) {
  try {
    kernel();  // launches asynchronously on ctx_'s stream
  } catch (const Error& e) { throw Error(e.code(), std::string(op) + " on " + name() + ": " + e.what()); }
}

EventPtr CudaDevice::recordEvent(const char* op) { return std::make_shared<CudaEvent>(ctx_, op); }

void CudaDevice::waitEvent(const char* op, EventPtr ev) {
  ctx_.makeCurrent();
  if (ev->kind() == DeviceKind::Cuda) {
    check(cudaStreamWaitEvent(ctx_.stream(), static_cast<CudaEvent&>(*ev).event(), 0), op);
    return;
  }
  auto* data = new EventPtr(std::move(ev));
  cudaError_t e = cudaLaunchHostFunc(ctx_.stream(), &waitOnHost, data);
  if (e != cudaSuccess) {
    delete data;
    check(e, op);
  }
}

namespace {

// Devices already prepared, read without a lock: deviceContext() locks and asks the runtime for
// the device count, which every op would otherwise pay.
std::atomic<CudaDevice*> gReady[64];
std::mutex gPrepare;

Device& provide(int index, const char* op) {
  if (index >= 0 && index < 64)
    if (CudaDevice* d = gReady[index].load(std::memory_order_acquire)) return *d;
  std::lock_guard<std::mutex> lk(gPrepare);
  try {
    Ctx& c = deviceContext(index);  // ND_NO_CUDA without a GPU, ND_ARG past the last one
    if (CudaDevice* d = gReady[index].load(std::memory_order_acquire)) return *d;
    // Created now, on the JS thread: launchers create the fault word lazily and the waiter thread
    // reads it, so it must exist before both.
    c.faultWord();
    streamWaiter(c);
    auto* d = new CudaDevice(c);  // alive for the process, like its context
    gReady[index].store(d, std::memory_order_release);
    return *d;
  } catch (const Error& e) { throw Error(e.code(), std::string(op) + ": " + e.what()); }
}

}  // namespace

void registerDevices() { setDeviceProvider(DeviceKind::Cuda, &provide); }

Ctx& contextOf(Device& d) { return static_cast<CudaDevice&>(d).ctx(); }

}  // namespace ck::cuda
