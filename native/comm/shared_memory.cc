#include "shared_memory.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>

#include "../core/errors.h"
#include "../core/op_trace.h"
#include "../core/stream.h"
#include "rendezvous.h"

namespace ck::comm {

namespace {

constexpr int64_t kLineFloats = 16;  // 64 bytes
// Elements reduced at a time: the partial sums stay in L1 while every member's slice streams by.
constexpr int64_t kBlockFloats = 2048;

// What one collective's ops share: the members' tensors (held, so a dispose() in JS while the
// op is queued is safe), the range, and the barrier.
struct Job {
  std::vector<TensorRef> tensors;
  Range range;
  ReduceOp op = ReduceOp::Sum;
  int root = 0;
  Rendezvous meet;
  explicit Job(int parties) : meet(parties) {}
  float* at(size_t member) const { return tensors[member].f32() + range.offset; }
};

// Sums chunk [begin, end) of every member's range, in member order, and writes it to all.
void reduceChunk(const Job& job, int64_t begin, int64_t end) {
  const size_t n = job.tensors.size();
  const float scale = job.op == ReduceOp::Mean ? float(n) : 1.0f;
  float acc[kBlockFloats];
  for (int64_t b = begin; b < end; b += kBlockFloats) {
    const int64_t m = std::min(kBlockFloats, end - b);
    std::memcpy(acc, job.at(0) + b, size_t(m) * sizeof(float));
    for (size_t k = 1; k < n; k++) {
      const float* src = job.at(k) + b;
      for (int64_t i = 0; i < m; i++) acc[i] += src[i];
    }
    // Division, not a multiplication by 1/n: the mean of n equal values is then that value.
    if (job.op == ReduceOp::Mean)
      for (int64_t i = 0; i < m; i++) acc[i] /= scale;
    for (size_t k = 0; k < n; k++) std::memcpy(job.at(k) + b, acc, size_t(m) * sizeof(float));
  }
}

void copyChunk(const Job& job, int64_t begin, int64_t end) {
  const float* src = job.at(size_t(job.root));
  for (size_t k = 0; k < job.tensors.size(); k++)
    if (int(k) != job.root) std::memcpy(job.at(k) + begin, src + begin, size_t(end - begin) * sizeof(float));
}

// Member `rank`'s part, run on its stream's executor.
void runMember(Job& job, int rank, const char* phase, void (*work)(const Job&, int64_t, int64_t)) {
  if (!job.meet.arriveAndWait()) return;  // aborted: the queueing call already threw
  int64_t begin, end;
  chunkOf(job.range.length, int(job.tensors.size()), rank, &begin, &end);
  const int64_t t0 = tracing() ? traceNow() : 0;
  std::exception_ptr failure;
  try {
    if (begin < end) work(job, begin, end);
  } catch (...) { failure = std::current_exception(); }
  if (t0) traceRecord(phase, t0, traceNow());
  // Arrive whatever happened: the others wait for this member before their next op.
  job.meet.arriveAndWait();
  if (failure) std::rethrow_exception(failure);
}

std::mutex& queueLock() {
  static auto* mu = new std::mutex();  // leaked on purpose, as the streams are
  return *mu;
}

void checkStreams(const char* op, const std::vector<Member>& members) {
  for (size_t i = 0; i < members.size(); i++) {
    const Member& m = members[i];
    if (!m.cpu) throw Error(Code::Arg, std::string(op) + ": " + m.device + " is not a CPU stream");
    for (size_t j = 0; j < i; j++)
      if (members[j].cpu == m.cpu)
        throw Error(Code::Arg, std::string(op) + ": " + m.device +
                                   " appears twice (one stream cannot take part twice in one collective)");
    if (m.cpu->capturing())
      throw Error(Code::Arg, std::string(op) + ": " + m.device +
                                 " is capturing: a collective cannot be recorded (every member must run it together)");
  }
}

// Queues member r's op on every member's stream, all under one lock. If a stream refuses
// (ND_BUSY past its bound), the members already queued are released and the error goes on.
void queueOnAll(const char* op, const char* phase, const std::vector<Member>& members, std::shared_ptr<Job> job,
                void (*work)(const Job&, int64_t, int64_t)) {
  std::lock_guard<std::mutex> lk(queueLock());
  for (size_t r = 0; r < members.size(); r++) {
    try {
      members[r].cpu->enqueue(op, [job, r, phase, work] { runMember(*job, int(r), phase, work); });
    } catch (...) {
      job->meet.abort();
      throw;
    }
  }
}

std::shared_ptr<Job> makeJob(const std::vector<Member>& members, Range range) {
  auto job = std::make_shared<Job>(int(members.size()));
  job->range = range;
  for (const Member& m : members) job->tensors.push_back(m.tensor);
  return job;
}

class SharedMemoryEngine final : public Engine {
 public:
  std::string describe() override { return "shared-memory"; }

  void allReduce(const std::vector<Member>& members, Range range, ReduceOp op) override {
    checkMembers("allReduce", members, range);
    checkStreams("allReduce", members);
    auto job = makeJob(members, range);
    job->op = op;
    queueOnAll("allReduce", "allReduce.reduce", members, job, reduceChunk);
  }

  void broadcast(const std::vector<Member>& members, Range range, int root) override {
    checkMembers("broadcast", members, range);
    checkStreams("broadcast", members);
    if (root < 0 || root >= int(members.size()))
      throw Error(Code::Arg, "broadcast: root " + std::to_string(root) + " is not a member (0.." +
                                 std::to_string(members.size() - 1) + ")");
    auto job = makeJob(members, range);
    job->root = root;
    queueOnAll("broadcast", "broadcast.copy", members, job, copyChunk);
  }
};

}  // namespace

void chunkOf(int64_t length, int members, int rank, int64_t* begin, int64_t* end) {
  int64_t chunk = (length + members - 1) / members;
  chunk = (chunk + kLineFloats - 1) / kLineFloats * kLineFloats;
  *begin = std::min(length, chunk * rank);
  *end = std::min(length, *begin + chunk);
}

Engine& sharedMemoryEngine() {
  static auto* engine = new SharedMemoryEngine();  // leaked on purpose: executors may still use it
  return *engine;
}

}  // namespace ck::comm
