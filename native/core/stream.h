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
  // Never blocks the caller (the JS thread: DESIGN.md, "the JS thread itself never blocks, not
  // even under back-pressure"). The queue is bounded twice, and past either bound the call
  // throws a coded ND_BUSY error instead of waiting:
  //  - by ops (maxQueuedOps(), CONVKIT_MAX_QUEUED_OPS), a guard against a producer that never
  //    waits: each queued op is a few hundred bytes of closure;
  //  - by host bytes (maxQueuedBytes(), CONVKIT_MAX_QUEUED_BYTES): the output buffers allocated
  //    for ops that have not run yet (see reserveOutput), which is what a runaway producer
  //    really accumulates (every queued op holds its outputs).
  // Callers yield at their waits (data(), synchronize()); fit() keeps one batch in flight and a
  // server awaits each answer, so both stay far below the bounds.
  void enqueue(const char* op, std::function<void()> fn);
  // Counts `bytes` of a buffer allocated (on the calling thread) for the next op queued on this
  // stream, and throws ND_BUSY if the bytes queued for ops that have not yet run would exceed
  // maxQueuedBytes() (unless nothing is queued: a single large output is not back-pressure). The next enqueue() takes
  // these bytes over; they are released when that op has run. Called by the CPU allocation of an op output
  // (core/device_cpu.cc).
  void reserveOutput(size_t bytes);
  // Bytes queued for ops that have not run yet (for tests and diagnostics).
  int64_t queuedBytes();
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
  // Whether ops queued now would be recorded: device_cpu.cc refuses events while capturing (a
  // recorded event would fire only at a replay), and native/comm refuses collectives (one
  // recorded on one participant only would leave the others waiting for it forever).
  bool capturing();
  // Blocks the caller until the stream is idle; returns and clears the pending error. Throws
  // ND_ARG while capturing (nothing recorded has run, so there is nothing to wait for).
  std::optional<StreamError> waitIdle();
  // Number of ops queued or running (for tests of ordering and for diagnostics).
  int64_t pending();
  // Whether an op has failed since the last wait took its error. An op that announces its own
  // completion (captureRun's done flag) asks first, so that it never reports success over an
  // earlier failure that the next wait will report.
  bool failed();
  // The intra-op threads the ops queued from now on may use (thread_pool.h setThreadBudget;
  // 0: the whole pool, the default). Queued as an op, so ops already queued keep theirs.
  // Returns the previous request.
  int setThreads(int threads);

 private:
  struct Task {
    const char* op;
    std::function<void()> fn;
    std::function<void(std::optional<StreamError>)> signal;
    int64_t bytes = 0;  // output bytes this op holds against maxQueuedBytes()
  };
  void finish(int64_t bytes, std::optional<StreamError> failure);
  void loop();
  std::optional<StreamError> takeError();

  int index_;
  std::mutex mu_;
  std::condition_variable cvWork_, cvIdle_;
  std::deque<Task> queue_;
  int64_t inFlight_ = 0;
  int64_t queuedBytes_ = 0;            // bytes of queued ops' outputs, released as they run
  int64_t reservedBytes_ = 0;          // reserved by reserveOutput, not yet taken by an enqueue
  std::atomic<bool> sleeping_{false};  // the executor is (about to be) asleep on cvWork_
  std::atomic<bool> hasWork_{false};   // the queue is non-empty (read while spinning, unlocked)
  std::optional<StreamError> error_;
  std::shared_ptr<CapturedOps> capture_;
  std::atomic<int> requestedThreads_{0};  // the last setThreads() value, for its return
  std::thread thread_;
};

// Per-op time accounting across all CPU streams, off unless enabled (tools and benchmarks).
struct OpProfile {
  std::string op;
  int64_t calls;
  double ms;
};
void setProfiling(bool on);

// The bounds of every CPU stream's queue (see CpuStream::enqueue); 0 turns one off.
// CONVKIT_MAX_QUEUED_OPS: default 1,000,000 ops. CONVKIT_MAX_QUEUED_BYTES: default half of the
// machine's physical memory. Both are read once, at first use.
int64_t maxQueuedOps();
int64_t maxQueuedBytes();
std::vector<OpProfile> takeProfile();

// Stream `index` of the CPU device ("cpu:index"), created on first use, alive for the process.
CpuStream& cpuStream(int index);
constexpr int kMaxCpuStreams = 64;

}  // namespace ck
