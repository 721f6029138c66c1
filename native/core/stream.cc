#include "stream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <cstdio>
#include <new>

#include <unistd.h>

#include "op_trace.h"
#include "thread_pool.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CK_STREAM_PAUSE() _mm_pause()
#else
#define CK_STREAM_PAUSE() std::this_thread::yield()
#endif

namespace ck {

namespace {
// How long an idle executor spins for the next op before it sleeps.
constexpr int kSpinMicros = 50;
std::atomic<bool> gProfiling{false};
std::mutex gProfileMu;
std::map<std::string, OpProfile>& profileTable() {
  static auto* t = new std::map<std::string, OpProfile>();  // leaked on purpose
  return *t;
}
}  // namespace

void setProfiling(bool on) { gProfiling = on; }

namespace {
int64_t envLimit(const char* name, int64_t fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  return (end && *end == 0 && v >= 0) ? int64_t(v) : fallback;
}
}  // namespace

int64_t maxQueuedOps() {
  static const int64_t limit = envLimit("CONVKIT_MAX_QUEUED_OPS", 1000000);
  return limit;
}

int64_t maxQueuedBytes() {
  static const int64_t limit = [] {
    int64_t fallback = int64_t(8) << 30;  // when the machine's memory cannot be read
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) fallback = int64_t(pages) * int64_t(page) / 2;
    return envLimit("CONVKIT_MAX_QUEUED_BYTES", fallback);
  }();
  return limit;
}

namespace {
std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(int64_t(1) << 30));
  return buf;
}
}  // namespace

std::vector<OpProfile> takeProfile() {
  std::lock_guard<std::mutex> lk(gProfileMu);
  std::vector<OpProfile> out;
  for (auto& kv : profileTable()) out.push_back(kv.second);
  profileTable().clear();
  return out;
}

CpuStream::CpuStream(int index) : index_(index) {
  thread_ = std::thread([this] { loop(); });
  thread_.detach();  // streams live for the whole process (see cpuStream)
}

namespace {
void recordProfile(const char* op, double ms) {
  std::lock_guard<std::mutex> lk(gProfileMu);
  OpProfile& p = profileTable()[op];
  p.op = op;
  p.calls++;
  p.ms += ms;
}
}  // namespace

void runCaptured(const CapturedOps& g) {
  const bool profiling = gProfiling.load(std::memory_order_relaxed);
  const bool traced = tracing();
  for (const CapturedOps::Op& op : g.ops) {
    try {
      if (traced) {
        const int64_t t0 = traceNow();
        op.fn();
        const int64_t t1 = traceNow();
        traceRecord(op.name, t0, t1);
        if (profiling) recordProfile(op.name, double(t1 - t0) / 1e6);
      } else if (profiling) {
        auto t0 = std::chrono::steady_clock::now();
        op.fn();
        recordProfile(op.name,
                      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      } else {
        op.fn();
      }
    } catch (const Error& e) { throw Error(e.code(), std::string(op.name) + ": " + e.what()); }
  }
}

void CpuStream::beginCapture() {
  std::lock_guard<std::mutex> lk(mu_);
  if (capture_) throw Error(Code::Arg, "cpu:" + std::to_string(index_) + " is already capturing");
  capture_ = std::make_shared<CapturedOps>();
}

std::shared_ptr<CapturedOps> CpuStream::endCapture() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!capture_) throw Error(Code::Arg, "cpu:" + std::to_string(index_) + " is not capturing");
  std::shared_ptr<CapturedOps> g;
  g.swap(capture_);
  return g;
}

bool CpuStream::capturing() {
  std::lock_guard<std::mutex> lk(mu_);
  return capture_ != nullptr;
}

void CpuStream::enqueue(const char* op, std::function<void()> fn) {
  const int64_t limit = maxQueuedOps();
  {
    std::unique_lock<std::mutex> lk(mu_);
    const int64_t bytes = reservedBytes_;
    reservedBytes_ = 0;
    if (capture_) {
      // A recorded op runs only at replay; its outputs are the recording's own tensors.
      capture_->ops.push_back(CapturedOps::Op{op, std::move(fn)});
      return;
    }
    if (limit > 0 && inFlight_ >= limit)
      throw Error(Code::Busy, std::string(op) + ": cpu:" + std::to_string(index_) + " has " +
                                  std::to_string(inFlight_) +
                                  " ops queued (the bound, CONVKIT_MAX_QUEUED_OPS=" + std::to_string(limit) +
                                  "); await a read or device.synchronize() before queueing more");
    queue_.push_back(Task{op, std::move(fn), nullptr, bytes});
    queuedBytes_ += bytes;
    inFlight_++;
    hasWork_.store(true, std::memory_order_release);
  }
  // The executor spins a while before it sleeps; only a sleeping one needs the futex wake.
  if (sleeping_.load(std::memory_order_seq_cst)) cvWork_.notify_one();
}

void CpuStream::reserveOutput(size_t bytes) {
  const int64_t limit = maxQueuedBytes();
  std::lock_guard<std::mutex> lk(mu_);
  if (capture_) return;  // recorded, not queued
  const int64_t before = queuedBytes_ + reservedBytes_, after = before + int64_t(bytes);
  // The bound stops a producer from running ahead, not a big tensor: one output larger than the
  // bound on an empty queue goes ahead (and is ND_OOM if memory cannot hold it).
  if (limit > 0 && before > 0 && after > limit)
    throw Error(Code::Busy,
                "cpu:" + std::to_string(index_) + ": " + gib(before) +
                    " of outputs are queued for ops that have not run yet, and " + std::to_string(bytes) +
                    " more bytes would pass the bound of " + gib(limit) +
                    " (CONVKIT_MAX_QUEUED_BYTES); await a read or device.synchronize() before queueing more");
  reservedBytes_ += int64_t(bytes);
}

int64_t CpuStream::queuedBytes() {
  std::lock_guard<std::mutex> lk(mu_);
  return queuedBytes_ + reservedBytes_;
}

void CpuStream::finish(int64_t bytes, std::optional<StreamError> failure) {
  std::lock_guard<std::mutex> lk(mu_);
  if (failure && !error_) error_ = std::move(failure);
  queuedBytes_ -= bytes;
  inFlight_--;
  if (inFlight_ == 0) cvIdle_.notify_all();
}

void CpuStream::enqueueSignal(std::function<void(std::optional<StreamError>)> fn) {
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (capture_) {
      // Refused through the signal itself (its promise rejects), so that its caller's
      // bookkeeping completes as for any other failed wait.
      lk.unlock();
      fn(StreamError{Code::Arg, "cpu:" + std::to_string(index_) +
                                    " is capturing: reading values back or waiting is not recorded"});
      return;
    }
    queue_.push_back(Task{"signal", nullptr, std::move(fn)});
    inFlight_++;
    hasWork_.store(true, std::memory_order_release);
  }
  if (sleeping_.load(std::memory_order_seq_cst)) cvWork_.notify_one();
}

std::optional<StreamError> CpuStream::takeError() {
  std::lock_guard<std::mutex> lk(mu_);
  std::optional<StreamError> e;
  e.swap(error_);
  return e;
}

std::optional<StreamError> CpuStream::waitIdle() {
  std::unique_lock<std::mutex> lk(mu_);
  // While capturing, the ops fn queued are recorded, not run: the stream looks idle and a
  // dataSync() would hand back memory no op has written yet.
  if (capture_)
    throw Error(Code::Arg, "cpu:" + std::to_string(index_) +
                               " is capturing: reading values back (dataSync, to()) or waiting is not recorded");
  cvIdle_.wait(lk, [this] { return inFlight_ == 0; });
  std::optional<StreamError> e;
  e.swap(error_);
  return e;
}

int64_t CpuStream::pending() {
  std::lock_guard<std::mutex> lk(mu_);
  return inFlight_;
}

bool CpuStream::failed() {
  std::lock_guard<std::mutex> lk(mu_);
  return error_.has_value();
}

int CpuStream::setThreads(int threads) {
  if (threads < 0) threads = 0;
  // The budget is the executor's thread-local setting, so it is set from an op on the executor.
  enqueue("setStreamThreads", [threads] { setThreadBudget(threads); });
  return requestedThreads_.exchange(threads);
}

void CpuStream::loop() {
  setTraceStream(index_);
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (queue_.empty()) {
        // Small nets queue ops a few microseconds apart (and a batch-1 prediction is a dozen
        // of them): spinning briefly saves a futex sleep and wake-up of tens of microseconds
        // per op. The producer checks sleeping_ after its push, so either it sees the flag and
        // notifies, or this thread sees the op before it sleeps.
        lk.unlock();
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
        while (!hasWork_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until) CK_STREAM_PAUSE();
        lk.lock();
        if (queue_.empty()) {
          sleeping_.store(true, std::memory_order_seq_cst);
          cvWork_.wait(lk, [this] { return !queue_.empty(); });
          sleeping_.store(false, std::memory_order_relaxed);
        }
      }
      task = std::move(queue_.front());
      queue_.pop_front();
      hasWork_.store(!queue_.empty(), std::memory_order_relaxed);
    }
    std::optional<StreamError> failure;
    if (task.signal) {
      // Everything queued before the signal has run: count it done before telling JS, so that a
      // resolved synchronize() never sees itself still pending.
      std::optional<StreamError> err = takeError();
      auto signal = std::move(task.signal);
      task = Task{};
      finish(0, std::nullopt);
      try {
        signal(std::move(err));
      } catch (...) {
        // A signal only hands results to JS; it must not take the stream down.
      }
      continue;
    } else {
      try {
        if (tracing()) {
          // Traced and profiled at once: the trace's timestamps already hold the time.
          const int64_t t0 = traceNow();
          task.fn();
          const int64_t t1 = traceNow();
          traceRecord(task.op, t0, t1);
          if (gProfiling.load(std::memory_order_relaxed)) recordProfile(task.op, double(t1 - t0) / 1e6);
        } else if (gProfiling.load(std::memory_order_relaxed)) {
          auto t0 = std::chrono::steady_clock::now();
          task.fn();
          recordProfile(task.op,
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        } else {
          task.fn();
        }
      } catch (const Error& e) {
        failure = StreamError{e.code(), std::string(task.op) + ": " + e.what()};
      } catch (const std::bad_alloc&) {
        failure = StreamError{Code::OOM, std::string(task.op) + ": out of host memory"};
      } catch (const std::exception& e) {
        failure = StreamError{Code::Internal, std::string(task.op) + ": " + e.what()};
      } catch (...) { failure = StreamError{Code::Internal, std::string(task.op) + ": unknown failure"}; }
    }
    // Drop the captured tensor references before reporting idle, so that memory() read after
    // a wait sees what the queued ops held released.
    const int64_t bytes = task.bytes;
    task = Task{};
    finish(bytes, std::move(failure));
  }
}

CpuStream& cpuStream(int index) {
  static std::mutex mu;
  static CpuStream** streams = new CpuStream*[kMaxCpuStreams]();  // leaked on purpose
  if (index < 0 || index >= kMaxCpuStreams)
    throw Error(Code::Arg, "cpu stream index " + std::to_string(index) + " out of range [0, 63]");
  std::lock_guard<std::mutex> lk(mu);
  if (!streams[index]) streams[index] = new CpuStream(index);
  return *streams[index];
}

}  // namespace ck
