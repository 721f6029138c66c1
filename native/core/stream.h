// A CPU device is an in-order stream: one executor thread runs queued ops one after another,
// exactly as a CUDA stream would. Ops return to JS as soon as they are queued; the only waits
// are synchronize() and reading values back. A kernel that throws does not stop the stream:
// its error (with the op's name) is kept and reported at the next wait on this stream.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace ck {

struct StreamError {
  Code code;
  std::string message;
};

// Ops recorded instead of run (DESIGN.md: "a recorded op list on CPU"), replayed later as one
// queued op: a small net's forward pass then costs one enqueue instead of one per layer. The
// ops keep the tensors they captured alive, and read and write those same buffers at every
// replay (as a CUDA graph does), so inputs are copied into the captured input first.
struct CapturedOps {
  struct Op {
    const char* name;
    std::function<void()> fn;
  };
  std::vector<Op> ops;
};
// Runs captured ops in order on the calling thread (the replaying stream's executor); an op's
// failure is rethrown with its name. Per-op profiling applies inside.
void runCaptured(const CapturedOps& g);

class CpuStream {
 public:
  explicit CpuStream(int index);
  int index() const { return index_; }

  // Queues fn to run after everything queued before it. `op` names it in error messages.
  // Back-pressure: while maxQueuedOps() ops are already pending, the caller waits until the
  // queue has drained to half of that. Each queued op holds its output buffers, so an unbounded
  // queue lets a fast producer (a training loop of small ops) run many steps ahead with all
  // their activations live: the allocator then hands out cold memory instead of the blocks the
  // previous step just released (LeNet-5 at batch 64: ~160 MB in flight at 20 steps ahead, and
  // 15-25% more CPU time per step than with one step in flight). A CUDA launch queue blocks
  // the same way when full. Note: a kernel must therefore never wait for an op that its own
  // producer has yet to queue on another stream.
  void enqueue(const char* op, std::function<void()> fn);
  // Queues a callback that runs in order on the executor thread and receives (and clears) the
  // first error raised since the previous wait.
  void enqueueSignal(std::function<void(std::optional<StreamError>)> fn);
  // While capturing, enqueue() records ops instead of queueing them, and waits that need the
  // executor (enqueueSignal) are refused: the signal runs at once, on the caller's thread, with
  // an error. beginCapture throws if a capture is already open;
  // endCapture returns what was recorded (throws if none is open). Every op queued on this
  // stream meanwhile is recorded, from whichever thread queues it.
  void beginCapture();
  std::shared_ptr<CapturedOps> endCapture();
  // Blocks the caller until the stream is idle; returns and clears the pending error.
  std::optional<StreamError> waitIdle();
  // Number of ops queued or running (for tests of ordering and for diagnostics).
  int64_t pending();

 private:
  struct Task {
    const char* op;
    std::function<void()> fn;
    std::function<void(std::optional<StreamError>)> signal;
  };
  void loop();
  std::optional<StreamError> takeError();

  int index_;
  std::mutex mu_;
  std::condition_variable cvWork_, cvIdle_, cvSpace_;
  std::deque<Task> queue_;
  int64_t inFlight_ = 0;
  int producersWaiting_ = 0;
  std::atomic<bool> sleeping_{false};  // the executor is (about to be) asleep on cvWork_
  std::atomic<bool> hasWork_{false};   // the queue is non-empty (read while spinning, unlocked)
  std::optional<StreamError> error_;
  std::shared_ptr<CapturedOps> capture_;
  std::thread thread_;
};

// Per-op time accounting across all CPU streams, off unless enabled (tools and benchmarks).
struct OpProfile {
  std::string op;
  int64_t calls;
  double ms;
};
void setProfiling(bool on);

// The back-pressure limit of every CPU stream (CONVKIT_MAX_QUEUED_OPS, default 1024; 0: none).
// It blocks the calling (JS) thread, so it is set high enough that a server awaiting its
// results never meets it; it only stops a producer that never waits from queueing without end.
// fit() keeps one batch in flight and stays far below it.
int64_t maxQueuedOps();
std::vector<OpProfile> takeProfile();

// Stream `index` of the CPU device ("cpu:index"), created on first use, alive for the process.
CpuStream& cpuStream(int index);
constexpr int kMaxCpuStreams = 64;

}  // namespace ck
