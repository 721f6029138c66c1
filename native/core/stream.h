// A CPU device is an in-order stream: one executor thread runs queued ops one after another,
// exactly as a CUDA stream would. Ops return to JS as soon as they are queued; the only waits
// are synchronize() and reading values back. A kernel that throws does not stop the stream:
// its error (with the op's name) is kept and reported at the next wait on this stream.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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

class CpuStream {
 public:
  explicit CpuStream(int index);
  int index() const { return index_; }

  // Queues fn to run after everything queued before it. `op` names it in error messages.
  void enqueue(const char* op, std::function<void()> fn);
  // Queues a callback that runs in order on the executor thread and receives (and clears) the
  // first error raised since the previous wait.
  void enqueueSignal(std::function<void(std::optional<StreamError>)> fn);
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
  std::condition_variable cvWork_, cvIdle_;
  std::deque<Task> queue_;
  int64_t inFlight_ = 0;
  std::optional<StreamError> error_;
  std::thread thread_;
};

// Per-op time accounting across all CPU streams, off unless enabled (tools and benchmarks).
struct OpProfile {
  std::string op;
  int64_t calls;
  double ms;
};
void setProfiling(bool on);
std::vector<OpProfile> takeProfile();

// Stream `index` of the CPU device ("cpu:index"), created on first use, alive for the process.
CpuStream& cpuStream(int index);
constexpr int kMaxCpuStreams = 64;

}  // namespace ck
