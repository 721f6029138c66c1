// A timestamped trace of the ops the CPU executors run, for tests and tools that must prove an
// ordering across streams (a collective started before another stream's backward op ended),
// which per-op totals (setProfiling) cannot show. Off by default; when off, recording costs one
// relaxed atomic load per op. Rows are kept in memory until taken, at most kMaxTraceRows of them
// (later rows are counted as dropped, so a trace left on cannot grow without bound).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ck {

struct TraceRow {
  int stream;  // cpu:N, or -1 for a thread that is no stream's executor
  std::string op;
  int64_t startNs, endNs;  // steady clock, nanoseconds
};

constexpr size_t kMaxTraceRows = size_t(1) << 20;

void setTracing(bool on);
bool tracing();
// Now on the steady clock the rows use.
int64_t traceNow();
// Records a row for the calling thread's stream (setTraceStream) when tracing is on.
void traceRecord(const char* op, int64_t startNs, int64_t endNs);
// The stream the calling thread executes (set once by each CpuStream's executor).
void setTraceStream(int stream);
// Rows recorded since the previous take, in the order they were recorded; `dropped` receives
// how many were left out past kMaxTraceRows.
std::vector<TraceRow> takeTrace(int64_t* dropped);

}  // namespace ck
