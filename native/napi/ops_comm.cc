// Bindings of the collectives (native/comm) and of the stream facilities data parallel needs:
// the per-stream thread budget and the op trace. Arguments are read and checked here; the
// engine for the group's kind of device (shared memory for CPU streams, NCCL or its fallback
// for CUDA devices) queues the work.
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../comm/collective.h"
#include "../core/device.h"
#include "device_of.h"
#include "../comm/shared_memory.h"
#include "../core/op_trace.h"
#include "../core/thread_pool.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/nccl_engine.h"
#include "../cuda/nccl_loader.h"
#endif

namespace ck {

namespace {

// Far more than any machine has devices; bounds the pairwise checks.
constexpr uint32_t kMaxMembers = 1024;

// A group from (streams[], tensors[]): each tensor must live on its stream's device.
struct Group {
  std::vector<Device*> devices;
  std::vector<TensorRef> buffers;
};

Group readGroup(const Napi::CallbackInfo& info, const char* op) {
  if (!info[0].IsArray() || !info[1].IsArray())
    throw Error(Code::Arg, std::string(op) + ": 'streams' and 'tensors' must be arrays");
  Napi::Array streams = info[0].As<Napi::Array>(), tensors = info[1].As<Napi::Array>();
  if (streams.Length() != tensors.Length())
    throw Error(Code::Arg, std::string(op) + ": " + std::to_string(streams.Length()) + " streams for " +
                               std::to_string(tensors.Length()) + " tensors");
  if (streams.Length() > kMaxMembers)
    throw Error(Code::Arg, std::string(op) + ": more than " + std::to_string(kMaxMembers) + " devices");
  Group g;
  for (uint32_t k = 0; k < streams.Length(); k++) {
    Napi::Value id = streams.Get(k);
    if (!id.IsNumber()) throw Error(Code::Arg, std::string(op) + ": 'streams' must hold stream ids");
    const double d = id.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d < 1e6) || d != double(int64_t(d)))
      throw Error(Code::Arg, std::string(op) + ": stream id " + std::to_string(d) + " is not an integer id");
    Device& dev = deviceOf(int64_t(d), op);
    const std::string what = "tensors[" + std::to_string(k) + "]";
    TensorRef r = handleRef(tensors.Get(k), op, what.c_str());
    if (!dev.holds(*r.storage)) throw Error(Code::Arg, std::string(op) + ": " + what + " is not on " + dev.name());
    g.devices.push_back(&dev);
    g.buffers.push_back(std::move(r));
  }
  // An empty group and mixed kinds are refused by collectives() (native/core/device.cc).
  return g;
}

comm::Range readRange(Args& a, size_t i) { return comm::Range{a.count(i, "offset"), a.count(i + 1, "length")}; }

// allReduce(streams, tensors, offset, length, op): op 0 sums, 1 averages.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Args a(info, "allReduce");
  Group g = readGroup(info, "allReduce");
  const comm::Range range = readRange(a, 2);
  const int64_t op = a.count(4, "op");
  if (op > 1) throw Error(Code::Arg, "allReduce: 'op' must be 0 (sum) or 1 (mean), got " + std::to_string(op));
  collectives(g.devices, "allReduce")->allReduce(g.buffers, range.offset, range.length, ReduceOp(op));
  return info.Env().Undefined();
}

// broadcast(streams, tensors, offset, length, root): root indexes the members.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Args a(info, "broadcast");
  Group g = readGroup(info, "broadcast");
  const comm::Range range = readRange(a, 2);
  const int64_t root = a.count(4, "root");
  if (root >= int64_t(g.devices.size()))
    throw Error(Code::Arg, "broadcast: root " + std::to_string(root) + " is not a member (0.." +
                               std::to_string(g.devices.size() - 1) + ")");
  collectives(g.devices, "broadcast")->broadcast(g.buffers, range.offset, range.length, size_t(root));
  return info.Env().Undefined();
}

// setStreamThreads(stream, n) -> the previous request: ops queued on cpu:N from now on use at
// most n intra-op threads (0: the whole pool).
Napi::Value SetStreamThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setStreamThreads");
  CpuStream& s = a.cpuOnly(0, "a thread budget");
  const int64_t n = a.count(1, "threads");
  if (n > 4096) throw Error(Code::Arg, "setStreamThreads: 'threads' must be at most 4096, got " + std::to_string(n));
  return Napi::Number::New(info.Env(), s.setThreads(int(n)));
}

// debugThreadUse(stream, y): an op that writes y[0] = the pool size its stream's kernels see and
// y[1] = how many threads worked on a 64-piece job it runs (each piece busy for 200 us), so a
// test can check that a thread budget holds.
Napi::Value DebugThreadUse(const Napi::CallbackInfo& info) {
  Args a(info, "debugThreadUse");
  CpuStream& s = a.cpuOnly(0, "debugThreadUse");
  TensorRef y = a.f32(1, "y", 2);
  s.enqueue("debugThreadUse", [y] {
    std::mutex mu;
    std::set<std::thread::id> ids;
    threadPool().parallelFor(64, [&](int64_t) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (std::chrono::steady_clock::now() < until) {}
      std::lock_guard<std::mutex> lk(mu);
      ids.insert(std::this_thread::get_id());
    });
    y.f32()[0] = float(threadPool().size());
    y.f32()[1] = float(ids.size());
  });
  return info.Env().Undefined();
}

// trace(on?) -> [{ stream, op, startNs, endNs }]: the rows recorded since the previous call,
// oldest first (rows past kMaxTraceRows were dropped); `on` switches tracing first.
Napi::Value Trace(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsBoolean()) setTracing(info[0].As<Napi::Boolean>().Value());
  Napi::Env env = info.Env();
  std::vector<TraceRow> rows = takeTrace(nullptr);
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("stream", rows[i].stream);
    o.Set("op", rows[i].op);
    o.Set("startNs", double(rows[i].startNs));
    o.Set("endNs", double(rows[i].endNs));
    out.Set(uint32_t(i), o);
  }
  return out;
}

// collectiveEngines() -> { cpu, cuda? }: the engine each kind of group uses (backends()).
Napi::Value CollectiveEngines(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cpu", comm::sharedMemoryEngine().describe());
#ifdef CONVKIT_CUDA
  o.Set("cuda", cuda::collectiveEngine().describe());
#endif
  return o;
}

// ncclLoad() -> { path, version }: opens NCCL now (dlopen only: no GPU needed), or throws
// ND_NO_CUDA naming every place searched. The CPU build has no NCCL.
Napi::Value NcclLoad(const Napi::CallbackInfo& info) {
#ifdef CONVKIT_CUDA
  const cuda::Nccl& lib = cuda::nccl();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("path", lib.path);
  o.Set("version", lib.version);
  return o;
#else
  (void)info;
  throw Error(Code::NoCuda, "ncclLoad: NCCL needs the CUDA build of convkit (this is the CPU build)");
#endif
}

}  // namespace

void registerComm(Napi::Env, Napi::Object exports) {
  comm::registerCpuCollectives();
  CK_EXPORT(exports, "allReduce", AllReduce);
  CK_EXPORT(exports, "broadcast", Broadcast);
  CK_EXPORT(exports, "setStreamThreads", SetStreamThreads);
  CK_EXPORT(exports, "trace", Trace);
  CK_EXPORT(exports, "debugThreadUse", DebugThreadUse);
  CK_EXPORT(exports, "collectiveEngines", CollectiveEngines);
  CK_EXPORT(exports, "ncclLoad", NcclLoad);
}

}  // namespace ck
