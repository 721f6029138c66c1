#include "thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <exception>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() std::this_thread::yield()
#endif

namespace ck {

namespace {
thread_local bool tInsidePool = false;
thread_local int tBudget = 0;  // 0: the whole pool
}  // namespace

void setThreadBudget(int threads) { tBudget = threads < 0 ? 0 : threads; }
int threadBudget() { return tBudget; }

int ThreadPool::size() const {
  const int all = capacity();
  return tBudget > 0 && tBudget < all ? tBudget : all;
}

struct ThreadPool::Job {
  const std::function<void(int64_t)>* fn;
  int64_t tasks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  int helpers = 0;  // workers that may still join (the caller's budget - 1); guarded by the pool's mu_
  std::mutex mu;
  std::condition_variable cv;
  std::exception_ptr error;
  std::mutex errMu;
};

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; i++) {
    workers_.emplace_back([this] { workerLoop(); });
    workers_.back().detach();  // the pool lives for the whole process
  }
}

void ThreadPool::runPieces(Job& job) {
  bool was = tInsidePool;
  tInsidePool = true;
  for (;;) {
    int64_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.tasks) break;
    try {
      (*job.fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.errMu);
      if (!job.error) job.error = std::current_exception();
    }
    if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.tasks) {
      std::lock_guard<std::mutex> lk(job.mu);
      job.cv.notify_all();
    }
  }
  tInsidePool = was;
}

void ThreadPool::workerLoop() {
  for (;;) {
    std::shared_ptr<Job> job;
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job = claimJob();
      seen = posted_.load(std::memory_order_acquire);
    }
    if (job) {
      runPieces(*job);
      continue;
    }
    // Spin briefly before sleeping: kernels arrive back to back during training and a futex
    // wake costs tens of microseconds.
    bool arrived = false;
    for (int spin = 0; spin < 4000 && !arrived; spin++) {
      arrived = posted_.load(std::memory_order_acquire) != seen;
      CK_PAUSE();
    }
    if (arrived) continue;
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [this] { return hasClaimableJob(); });
  }
}

// The first queued job with pieces left whose caller's budget admits one more worker (taking
// that slot), or null. Jobs with every piece taken are dropped on the way. Called under mu_.
std::shared_ptr<ThreadPool::Job> ThreadPool::claimJob() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    Job& j = **it;
    if (j.next.load(std::memory_order_relaxed) >= j.tasks) {
      it = queue_.erase(it);
      continue;
    }
    if (j.helpers > 0) {
      j.helpers--;
      return *it;
    }
    ++it;
  }
  return nullptr;
}

bool ThreadPool::hasClaimableJob() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->next.load(std::memory_order_relaxed) >= (*it)->tasks) {
      it = queue_.erase(it);
      continue;
    }
    if ((*it)->helpers > 0) return true;
    ++it;
  }
  return false;
}

void ThreadPool::parallelFor(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  const int threads = size();
  if (tasks == 1 || threads <= 1 || tInsidePool) {
    for (int64_t i = 0; i < tasks; i++) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->tasks = tasks;
  job->helpers = threads - 1;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(job);
  }
  posted_.fetch_add(1, std::memory_order_release);
  cv_.notify_all();
  runPieces(*job);
  for (int spin = 0; spin < 20000 && job->done.load(std::memory_order_acquire) < tasks; spin++) CK_PAUSE();
  if (job->done.load(std::memory_order_acquire) < tasks) {
    std::unique_lock<std::mutex> lk(job->mu);
    job->cv.wait(lk, [&] { return job->done.load(std::memory_order_acquire) >= tasks; });
  }
  if (job->error) std::rethrow_exception(job->error);
}

ThreadPool& threadPool() {
  static ThreadPool* pool = [] {
    int n = int(std::thread::hardware_concurrency());
    if (const char* s = std::getenv("CONVKIT_NUM_THREADS")) n = std::atoi(s);
    return new ThreadPool(std::max(1, n));
  }();
  return *pool;
}

void parallelRange(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  ThreadPool& pool = threadPool();
  int64_t pieces = std::min<int64_t>(pool.size(), (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1));
  if (pieces <= 1) {
    fn(0, n);
    return;
  }
  int64_t chunk = (n + pieces - 1) / pieces;
  pool.parallelFor(pieces, [&](int64_t p) {
    int64_t b = p * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace ck
