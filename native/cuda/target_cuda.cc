// The CUDA side of native/napi/target.h: device contexts ready for ops from the JS thread,
// waits through the device's waiter thread, and uploads staged in pinned memory.
#include "../napi/target_cuda.h"

#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <new>

#include "context.h"
#include "cuda_check.h"
#include "pinned_pool.h"
#include "stream_waiter.h"

namespace ck {

namespace {

// Contexts already prepared, read without a lock: deviceContext() locks and asks the runtime
// for the device count, which every op would otherwise pay.
std::atomic<cuda::Ctx*> gReady[64];
std::mutex gPrepare;

StreamError asStreamError(const Error& e) { return StreamError{e.code(), e.what()}; }

}  // namespace

cuda::Ctx& cudaTargetContext(int index, const char* op) {
  if (index >= 0 && index < 64)
    if (cuda::Ctx* c = gReady[index].load(std::memory_order_acquire)) return *c;
  std::lock_guard<std::mutex> lk(gPrepare);
  try {
    cuda::Ctx& c = cuda::deviceContext(index);  // ND_NO_CUDA without a GPU, ND_ARG past the last one
    // Created now, on the JS thread: launchers create the fault word lazily and the waiter thread
    // reads it, so it must exist before both.
    c.faultWord();
    cuda::streamWaiter(c);
    gReady[index].store(&c, std::memory_order_release);
    return c;
  } catch (const Error& e) { throw Error(e.code(), std::string(op) + ": " + e.what()); }
}

void cudaSignal(cuda::Ctx& ctx, Target::Signal fn) {
  try {
    cuda::streamWaiter(ctx).enqueue("synchronize", nullptr, 0,
                                    [fn](std::optional<StreamError> err, const char*, size_t) { fn(std::move(err)); });
  } catch (const Error& e) {
    // Reported through the wait itself (its promise rejects), as a refused CPU signal is.
    fn(asStreamError(e));
  }
}

void cudaRead(cuda::Ctx& ctx, const TensorRef& r, Target::Bytes fn) {
  try {
    cuda::streamWaiter(ctx).enqueue(
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

namespace {
// The blocking forms wait on the same queue as the async ones, so a fault is reported once
// whichever form sees it first.
std::optional<StreamError> waitFor(cuda::Ctx& ctx, const char* op, const void* src, size_t n, void* dst) {
  auto result = std::make_shared<std::promise<std::optional<StreamError>>>();
  std::future<std::optional<StreamError>> f = result->get_future();
  try {
    auto done = [result, dst](std::optional<StreamError> err, const char* bytes, size_t k) {
      if (!err && k) std::memcpy(dst, bytes, k);
      result->set_value(std::move(err));
    };
    cuda::streamWaiter(ctx).enqueue(op, src, n, std::move(done));
  } catch (const Error& e) { return asStreamError(e); }
  return f.get();
}
}  // namespace

std::optional<StreamError> cudaWaitIdle(cuda::Ctx& ctx) { return waitFor(ctx, "synchronizeSync", nullptr, 0, nullptr); }

std::optional<StreamError> cudaReadSync(cuda::Ctx& ctx, const TensorRef& r, void* dst) {
  return waitFor(ctx, "readSync", r.data(), r.bytes, dst);
}

int64_t cudaPending(cuda::Ctx& ctx) {
  int64_t busy = cudaStreamQuery(ctx.stream()) == cudaErrorNotReady ? 1 : 0;
  return cuda::streamWaiter(ctx).pending() + busy;
}

TensorRef cudaUpload(cuda::Ctx& ctx, const void* src, size_t bytes) {
  TensorRef r{Storage::allocDevice(bytes, ctx.device()), 0, bytes};
  if (!bytes) return r;
  cuda::PinnedPool& pool = cuda::pinnedPool(ctx.device());
  cuda::PinnedPool::Block* b = pool.acquire(bytes);
  std::memcpy(b->ptr, src, bytes);
  ctx.makeCurrent();
  cudaError_t e = cudaMemcpyAsync(r.data(), b->ptr, bytes, cudaMemcpyHostToDevice, ctx.stream());
  pool.releaseAfter(b, ctx.stream());
  cuda::check(e, "fromBytes: copying to the device");
  return r;
}

}  // namespace ck
