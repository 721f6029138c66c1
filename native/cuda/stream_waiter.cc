#include "stream_waiter.h"

#include <cstring>
#include <string>

#include "cuda_check.h"

namespace ck::cuda {

namespace {
// The fault word sits at the start of a wait's pinned block, the bytes read after it.
constexpr size_t kHeader = 16;
}  // namespace

StreamWaiter::StreamWaiter(Ctx& ctx) : ctx_(ctx) {
  thread_ = std::thread([this] { loop(); });
  thread_.detach();
}

void StreamWaiter::enqueue(const char* op, const void* deviceSrc, size_t n, Done done) {
  ctx_.makeCurrent();
  int* fault = ctx_.faultWord();
  PinnedPool& pool = pinnedPool(ctx_.device());
  PinnedPool::Block* block = pool.acquire(kHeader + n);
  cudaEvent_t event = nullptr;
  try {
    cudaStream_t s = ctx_.stream();
    if (n) check(cudaMemcpyAsync(block->ptr + kHeader, deviceSrc, n, cudaMemcpyDeviceToHost, s), op);
    // Copied and cleared in stream order: this wait reports exactly the faults raised by the
    // kernels queued since the previous wait.
    check(cudaMemcpyAsync(block->ptr, fault, 2 * sizeof(int), cudaMemcpyDeviceToHost, s), op);
    check(cudaMemsetAsync(fault, 0, 2 * sizeof(int), s), op);
    // Blocking sync: the waiter thread sleeps instead of spinning a core while the GPU works.
    check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming | cudaEventBlockingSync), op);
    check(cudaEventRecord(event, s), op);
  } catch (...) {
    if (event) cudaEventDestroy(event);
    pool.releaseAfter(block, ctx_.stream());  // copies may have been queued before the failure
    throw;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    jobs_.push_back(Job{op, event, block, n, std::move(done)});
    inFlight_++;
  }
  cv_.notify_one();
}

int64_t StreamWaiter::pending() {
  std::lock_guard<std::mutex> lk(mu_);
  return inFlight_;
}

void StreamWaiter::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return !jobs_.empty(); });
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::optional<StreamError> err;
    cudaError_t e = cudaSetDevice(ctx_.device());
    if (e == cudaSuccess) e = cudaEventSynchronize(job.event);
    cudaEventDestroy(job.event);
    const std::string where = "cuda:" + std::to_string(ctx_.device());
    if (e != cudaSuccess) {
      // A fault inside a kernel (illegal address, ...) poisons the CUDA context: every later
      // wait on this device reports it too; the process must restart to use the GPU again.
      err = StreamError{e == cudaErrorMemoryAllocation ? Code::OOM : Code::Cuda,
                        where + ": " + job.op + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")"};
    } else {
      int word[2];
      std::memcpy(word, job.block->ptr, sizeof(word));
      if (word[0] != 0) {
        Error fe = faultError((where + ": a kernel queued before this " + job.op).c_str(), word);
        err = StreamError{fe.code(), fe.what()};
      }
    }
    {
      // Counted done before JS hears of it, as on a CPU stream: pending() is 0 once it resolves.
      std::lock_guard<std::mutex> lk(mu_);
      inFlight_--;
    }
    try {
      job.done(err, err ? nullptr : job.block->ptr + kHeader, err ? 0 : job.n);
    } catch (...) {
      // A callback only hands results to JS; it must not take the waiter down.
    }
    job.done = nullptr;
    pinnedPool(ctx_.device()).release(job.block);
  }
}

StreamWaiter& streamWaiter(Ctx& ctx) {
  static StreamWaiter** all = new StreamWaiter*[64]();  // leaked on purpose: threads outlive statics
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  StreamWaiter*& w = all[ctx.device()];
  if (!w) w = new StreamWaiter(ctx);
  return *w;
}

}  // namespace ck::cuda
