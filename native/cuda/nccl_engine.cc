#include "nccl_engine.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "context.h"
#include "device_cuda.h"
#include "cuda_check.h"
#include "nccl_fallback.h"
#include "nccl_loader.h"

namespace ck::cuda {

namespace {

constexpr int kAvgVersion = 21000;        // ncclAvg: NCCL 2.10
constexpr int kMultiRankVersion = 23000;  // several ranks on one GPU: NCCL 2.30

bool envIs(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}

// Why NCCL cannot serve this process's collectives, or "" when it can.
std::string ncclUnusable() {
  if (envIs("CONVKIT_CUDA_COLLECTIVE", "fallback")) return "CONVKIT_CUDA_COLLECTIVE=fallback";
  try {
    const Nccl& lib = nccl();
    if (lib.version < kAvgVersion)
      return "NCCL " + ncclVersionName(lib.version) + " at " + lib.path + " is older than 2.10 (no ncclAvg)";
  } catch (const Error& e) { return e.what(); }
  return "";
}

bool repeatsDevice(const std::vector<comm::Member>& members) {
  for (size_t i = 0; i < members.size(); i++)
    for (size_t j = 0; j < i; j++)
      if (members[i].cuda->device() == members[j].cuda->device()) return true;
  return false;
}

// The stream each member's NCCL call runs on: its device's stream for the first member on that
// device, a side stream of the device for each further one (two ranks' kernels on one stream
// would wait on each other forever), joined to the device's stream with events.
class Lanes {
 public:
  explicit Lanes(const std::vector<comm::Member>& members) : members_(members) {
    std::map<int, int> seen;
    for (const comm::Member& m : members) {
      const int slot = seen[m.cuda->device()]++;
      streams_.push_back(slot == 0 ? m.cuda->stream() : sideStream(*m.cuda, slot));
    }
  }
  cudaStream_t operator[](size_t r) const { return streams_[r]; }
  // Side streams wait for their device's stream (before), and it for them (after).
  void join(bool before) {
    for (size_t r = 0; r < members_.size(); r++) {
      Ctx& ctx = *members_[r].cuda;
      if (streams_[r] == ctx.stream()) continue;
      ctx.makeCurrent();
      cudaEvent_t e;
      check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "collective: an event");
      cudaStream_t from = before ? ctx.stream() : streams_[r], to = before ? streams_[r] : ctx.stream();
      cudaError_t err = cudaEventRecord(e, from);
      if (err == cudaSuccess) err = cudaStreamWaitEvent(to, e, 0);
      cudaEventDestroy(e);
      check(err, "collective: joining a side stream");
    }
  }

 private:
  static cudaStream_t sideStream(Ctx& ctx, int slot) {
    static std::mutex mu;
    static auto* streams = new std::map<std::pair<int, int>, cudaStream_t>();  // leaked, as contexts are
    std::lock_guard<std::mutex> lk(mu);
    cudaStream_t& s = (*streams)[{ctx.device(), slot}];
    if (!s) {
      ctx.makeCurrent();
      check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "collective: a side stream");
    }
    return s;
  }
  const std::vector<comm::Member>& members_;
  std::vector<cudaStream_t> streams_;
};

class CudaCollectives final : public comm::Engine {
 public:
  std::string describe() override {
    const std::string why = ncclUnusable();
    if (!why.empty()) return "fallback: copy+reduce (" + why + ")";
    return "nccl " + ncclVersionName(nccl().version);
  }

  void allReduce(const std::vector<comm::Member>& members, comm::Range range, comm::ReduceOp op) override {
    comm::checkMembers("allReduce", members, range);
    checkCuda("allReduce", members);
    if (!useNccl(members)) return fallbackAllReduce(members, range, op);
    const Nccl& lib = nccl();
    const std::vector<ncclapi::Comm>& comms = communicator(members);
    Lanes lanes(members);
    lanes.join(true);
    grouped(
        lib, "ncclAllReduce",
        [&](size_t r) {
          float* p = members[r].tensor.f32() + range.offset;
          return lib.allReduce(p, p, size_t(range.length), ncclapi::kFloat32,
                               op == comm::ReduceOp::Mean ? ncclapi::kAvg : ncclapi::kSum, comms[r], lanes[r]);
        },
        members.size());
    lanes.join(false);
  }

  void broadcast(const std::vector<comm::Member>& members, comm::Range range, int root) override {
    comm::checkMembers("broadcast", members, range);
    checkCuda("broadcast", members);
    if (root < 0 || root >= int(members.size()))
      throw Error(Code::Arg, "broadcast: root " + std::to_string(root) + " is not a member");
    if (!useNccl(members)) return fallbackBroadcast(members, range, root);
    const Nccl& lib = nccl();
    const std::vector<ncclapi::Comm>& comms = communicator(members);
    Lanes lanes(members);
    lanes.join(true);
    const float* src = members[size_t(root)].tensor.f32() + range.offset;
    grouped(
        lib, "ncclBroadcast",
        [&](size_t r) {
          float* p = members[r].tensor.f32() + range.offset;
          return lib.broadcast(src, p, size_t(range.length), ncclapi::kFloat32, root, comms[r], lanes[r]);
        },
        members.size());
    lanes.join(false);
  }

 private:
  static void checkCuda(const char* op, const std::vector<comm::Member>& members) {
    for (const comm::Member& m : members)
      if (!m.cuda) throw Error(Code::Arg, std::string(op) + ": " + m.device + " is not a CUDA device");
  }

  static bool useNccl(const std::vector<comm::Member>& members) {
    if (!ncclUnusable().empty()) return false;
    if (!repeatsDevice(members)) return true;
    return nccl().version >= kMultiRankVersion && envIs("NCCL_MULTI_RANK_GPU_ENABLE", "1");
  }

  // One call per member inside ncclGroupStart/End; the group is always closed, and the first
  // failure is thrown after it.
  template <typename Call>
  static void grouped(const Nccl& lib, const char* what, Call call, size_t n) {
    ncclCheck(lib.groupStart(), "ncclGroupStart");
    ncclapi::Result first = ncclapi::kSuccess;
    for (size_t r = 0; r < n && first == ncclapi::kSuccess; r++) first = call(r);
    const ncclapi::Result end = lib.groupEnd();
    ncclCheck(first, what);
    ncclCheck(end, "ncclGroupEnd");
  }

  // The communicator of this list of devices (in member order), created on first use.
  const std::vector<ncclapi::Comm>& communicator(const std::vector<comm::Member>& members) {
    std::vector<int> devices;
    for (const comm::Member& m : members) devices.push_back(m.cuda->device());
    std::lock_guard<std::mutex> lk(mu_);
    auto it = comms_.find(devices);
    if (it != comms_.end()) return it->second;
    std::vector<ncclapi::Comm> comms(devices.size(), nullptr);
    ncclCheck(nccl().commInitAll(comms.data(), int(devices.size()), devices.data()), "ncclCommInitAll");
    return comms_.emplace(devices, std::move(comms)).first->second;
  }

  std::mutex mu_;
  std::map<std::vector<int>, std::vector<ncclapi::Comm>> comms_;
};

}  // namespace

comm::Engine& collectiveEngine() {
  static auto* engine = new CudaCollectives();  // leaked on purpose: streams may still use it
  return *engine;
}

void registerCollectives() {
  setCollectivesFactory(DeviceKind::Cuda, [](const std::vector<Device*>& devices) {
    return comm::engineCollectives(devices, collectiveEngine(),
                                   [](Device& d, comm::Member& m) { m.cuda = &contextOf(d); });
  });
}

}  // namespace ck::cuda
