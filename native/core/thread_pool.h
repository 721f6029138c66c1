// Intra-op thread pool shared by every CPU stream. A kernel splits its work into `tasks`
// independent pieces; the calling thread (a stream executor) works on them too, so a pool of
// size N uses N-1 worker threads. Calls from several streams at once are fine: jobs queue up
// and workers take pieces of whichever job is at the front.
//
// Thread budget: a calling thread may be limited to `n` threads of the pool (itself included),
// so that two CPU streams of one thread each (data-parallel replicas on a 2-core machine) run
// side by side instead of both spreading over every core. size() reports the caller's budget,
// so every kernel that splits its work by size() adapts without knowing about budgets.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ck {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  // The threads a job queued by the calling thread may use: the whole pool, or the calling
  // thread's budget (setThreadBudget) when that is smaller.
  int size() const;
  // Every thread of the pool, whatever the caller's budget.
  int capacity() const { return int(workers_.size()) + 1; }
  // Runs fn(i) for every i in [0, tasks) and returns when all have finished. Exceptions thrown
  // by fn are caught and the first one is rethrown here, on the calling thread. Nested calls
  // (from inside a task) run serially on the calling thread. At most size() threads work on
  // the job (the caller and size() - 1 workers).
  void parallelFor(int64_t tasks, const std::function<void(int64_t)>& fn);

 private:
  struct Job;
  void workerLoop();
  static void runPieces(Job& job);
  std::shared_ptr<Job> claimJob();
  bool hasClaimableJob();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<uint64_t> posted_{0};
};

// Limits the jobs the calling thread queues from now on to `threads` threads of the pool, itself
// included (1: every kernel it runs is serial); 0 lifts the limit. A CPU stream's executor sets
// it for the ops it runs (CpuStream::setThreads).
void setThreadBudget(int threads);
int threadBudget();

// The process-wide pool: CONVKIT_NUM_THREADS threads, or one per hardware thread.
ThreadPool& threadPool();

// Splits [0, n) into at most `pieces` contiguous ranges and runs fn(begin, end) on the pool;
// ranges are never shorter than `grain` (small work stays on one thread).
void parallelRange(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ck
