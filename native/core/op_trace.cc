#include "op_trace.h"

#include <atomic>
#include <chrono>
#include <mutex>

namespace ck {

namespace {
std::atomic<bool> gTracing{false};
std::mutex gTraceMu;
std::vector<TraceRow>& rows() {
  static auto* r = new std::vector<TraceRow>();  // leaked on purpose: executors outlive statics
  return *r;
}
int64_t gDropped = 0;
thread_local int tStream = -1;
}  // namespace

void setTracing(bool on) { gTracing.store(on, std::memory_order_relaxed); }

bool tracing() { return gTracing.load(std::memory_order_relaxed); }

int64_t traceNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void setTraceStream(int stream) { tStream = stream; }

void traceRecord(const char* op, int64_t startNs, int64_t endNs) {
  if (!tracing()) return;
  std::lock_guard<std::mutex> lk(gTraceMu);
  if (rows().size() >= kMaxTraceRows) {
    gDropped++;
    return;
  }
  rows().push_back(TraceRow{tStream, op, startNs, endNs});
}

std::vector<TraceRow> takeTrace(int64_t* dropped) {
  std::lock_guard<std::mutex> lk(gTraceMu);
  std::vector<TraceRow> out;
  out.swap(rows());
  if (dropped) *dropped = gDropped;
  gDropped = 0;
  return out;
}

}  // namespace ck
