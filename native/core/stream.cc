#include "stream.h"

#include <atomic>
#include <chrono>
#include <map>
#include <new>

namespace ck {

namespace {
std::atomic<bool> gProfiling{false};
std::mutex gProfileMu;
std::map<std::string, OpProfile>& profileTable() {
  static auto* t = new std::map<std::string, OpProfile>();  // leaked on purpose
  return *t;
}
}  // namespace

void setProfiling(bool on) { gProfiling = on; }

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

void CpuStream::enqueue(const char* op, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(Task{op, std::move(fn), nullptr});
    inFlight_++;
  }
  cvWork_.notify_one();
}

void CpuStream::enqueueSignal(std::function<void(std::optional<StreamError>)> fn) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(Task{"signal", nullptr, std::move(fn)});
    inFlight_++;
  }
  cvWork_.notify_one();
}

std::optional<StreamError> CpuStream::takeError() {
  std::lock_guard<std::mutex> lk(mu_);
  std::optional<StreamError> e;
  e.swap(error_);
  return e;
}

std::optional<StreamError> CpuStream::waitIdle() {
  std::unique_lock<std::mutex> lk(mu_);
  cvIdle_.wait(lk, [this] { return inFlight_ == 0; });
  std::optional<StreamError> e;
  e.swap(error_);
  return e;
}

int64_t CpuStream::pending() {
  std::lock_guard<std::mutex> lk(mu_);
  return inFlight_;
}

void CpuStream::loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cvWork_.wait(lk, [this] { return !queue_.empty(); });
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::optional<StreamError> failure;
    if (task.signal) {
      try {
        task.signal(takeError());
      } catch (...) {
        // A signal only hands results to JS; it must not take the stream down.
      }
    } else {
      try {
        if (gProfiling.load(std::memory_order_relaxed)) {
          auto t0 = std::chrono::steady_clock::now();
          task.fn();
          double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          std::lock_guard<std::mutex> lk(gProfileMu);
          OpProfile& p = profileTable()[task.op];
          p.op = task.op;
          p.calls++;
          p.ms += ms;
        } else {
          task.fn();
        }
      } catch (const Error& e) {
        failure = StreamError{e.code(), std::string(task.op) + ": " + e.what()};
      } catch (const std::bad_alloc&) {
        failure = StreamError{Code::OOM, std::string(task.op) + ": out of host memory"};
      } catch (const std::exception& e) {
        failure = StreamError{Code::Internal, std::string(task.op) + ": " + e.what()};
      } catch (...) {
        failure = StreamError{Code::Internal, std::string(task.op) + ": unknown failure"};
      }
    }
    // Drop the captured tensor references before reporting idle, so that memory() read after
    // a wait sees what the queued ops held released.
    task = Task{};
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (failure && !error_) error_ = std::move(failure);
      inFlight_--;
      if (inFlight_ == 0) cvIdle_.notify_all();
    }
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
