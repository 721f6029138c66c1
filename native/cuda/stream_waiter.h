// Waits on a CUDA stream without blocking the JS thread. A wait is queued in stream order from
// the JS thread (a device->pinned copy of the bytes to read, a copy-and-clear of the kernel-fault
// word, an event); one thread per device sleeps on those events in order and hands each result
// to its callback, which posts it to JS (native/napi/waits.cc) exactly as a CPU stream's
// executor does. So `await t.data()` and `await device.synchronize()` behave the same on cpu:N
// and cuda:N, and a kernel fault is reported once, at the first wait after it.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "../core/stream.h"
#include "context.h"
#include "pinned_pool.h"

namespace ck::cuda {

class StreamWaiter {
 public:
  // Receives the first error since the previous wait, or else the n bytes read (valid during
  // the call only).
  using Done = std::function<void(std::optional<StreamError>, const char* bytes, size_t n)>;

  explicit StreamWaiter(Ctx& ctx);
  // Called on the JS thread. Throws ck::Error when the wait cannot be queued (the stream is
  // unusable after an earlier fault, or pinned memory ran out).
  void enqueue(const char* op, const void* deviceSrc, size_t n, Done done);
  // Waits queued and not yet reported.
  int64_t pending();

 private:
  struct Job {
    const char* op;
    cudaEvent_t event;
    PinnedPool::Block* block;
    size_t n;
    Done done;
  };
  void loop();

  Ctx& ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  int64_t inFlight_ = 0;
  std::thread thread_;
};

// The waiter of ctx's device, started on first use, alive for the process (like CPU streams).
StreamWaiter& streamWaiter(Ctx& ctx);

}  // namespace ck::cuda
