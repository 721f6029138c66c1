// Bindings of native/cuda/nccl_rank (CUDA build only: the *_cuda.cc files stay out of the CPU
// build): the unique id, joining a multi-process NCCL group off the JS thread, and its
// collectives queued on the rank's GPU stream. lib/parallel/process-group.ts drives them.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../cuda/device_cuda.h"
#include "../cuda/nccl_rank.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

struct RankBox {
  std::shared_ptr<cuda::NcclRank> rank;
};
const napi_type_tag kRankTag = {0x636f6e766b697421ULL, 0x6e63636c72616e6bULL};  // "convkit!" "ncclrank"

std::shared_ptr<cuda::NcclRank>& rankOf(const Napi::Value& v, const char* op) {
  if (!v.IsExternal() || !v.As<Napi::External<RankBox>>().CheckTypeTag(&kRankTag))
    throw Error(Code::Arg, std::string(op) + ": 'group' must be a handle from ncclJoin");
  std::shared_ptr<cuda::NcclRank>& r = v.As<Napi::External<RankBox>>().Data()->rank;
  if (!r) throw Error(Code::Closed, std::string(op) + ": the NCCL group was destroyed");
  return r;
}

// ncclUniqueId() -> Uint8Array(128)
Napi::Value NcclUniqueId(const Napi::CallbackInfo& info) {
  std::vector<char> id = cuda::NcclRank::uniqueId();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), id.size());
  std::copy(id.begin(), id.end(), reinterpret_cast<char*>(out.Data()));
  return out;
}

class JoinWorker : public Napi::AsyncWorker {
 public:
  JoinWorker(Napi::Env env, std::vector<char> id, int size, int rank, int device)
      : Napi::AsyncWorker(env, "convkit-nccl-join"),
        deferred_(Napi::Promise::Deferred::New(env)),
        id_(std::move(id)),
        size_(size),
        rank_(rank),
        device_(device) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      joined_ = cuda::NcclRank::join(id_, size_, rank_, device_);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::exception& e) { SetError(e.what()); }
  }
  void OnOK() override {
    auto ext = Napi::External<RankBox>::New(Env(), new RankBox{joined_}, [](Napi::Env, RankBox* b) { delete b; });
    ext.TypeTag(&kRankTag);
    deferred_.Resolve(ext);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(jsError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<char> id_;
  int size_, rank_, device_;
  std::shared_ptr<cuda::NcclRank> joined_;
  Code code_ = Code::Internal;
};

// ncclJoin(stream, id: Uint8Array(128), worldSize, rank) -> Promise<group>: this rank on the GPU of `stream`.
Napi::Value NcclJoin(const Napi::CallbackInfo& info) {
  Args a(info, "ncclJoin");
  Device& dev = a.device(0);
  if (dev.kind() != DeviceKind::Cuda) throw Error(Code::Arg, "ncclJoin: " + dev.name() + " is not a GPU");
  if (!info[1].IsTypedArray()) throw Error(Code::Arg, "ncclJoin: 'id' must be a Uint8Array");
  Napi::Uint8Array idArr = info[1].As<Napi::Uint8Array>();
  std::vector<char> id(reinterpret_cast<const char*>(idArr.Data()),
                       reinterpret_cast<const char*>(idArr.Data()) + idArr.ByteLength());
  const int64_t size = a.count(2, "worldSize"), rank = a.count(3, "rank");
  CK_CHECK(size >= 1 && size <= 1 << 20 && rank < size, Code::Arg, "ncclJoin: rank must be below worldSize");
  auto* w = new JoinWorker(info.Env(), std::move(id), int(size), int(rank), dev.index());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// ncclRankAllReduce(stream, group, x, offset, n, mean) / ncclRankBroadcast(stream, group, x, offset, n, root)
Napi::Value NcclRankAllReduce(const Napi::CallbackInfo& info) {
  Args a(info, "ncclRankAllReduce");
  Device& dev = a.device(0);
  std::shared_ptr<cuda::NcclRank> r = rankOf(info[1], "ncclRankAllReduce");
  const int64_t offset = a.count(3, "offset"), n = a.count(4, "n");
  CK_CHECK(offset <= (int64_t(1) << 60) && n <= (int64_t(1) << 60), Code::Shape,
           "ncclRankAllReduce: offset + n too large");
  TensorRef x = a.f32(2, "x", offset + n);
  r->allReduce(cuda::contextOf(dev), x.f32() + offset, size_t(n), a.flag(5));
  return info.Env().Undefined();
}

Napi::Value NcclRankBroadcast(const Napi::CallbackInfo& info) {
  Args a(info, "ncclRankBroadcast");
  Device& dev = a.device(0);
  std::shared_ptr<cuda::NcclRank> r = rankOf(info[1], "ncclRankBroadcast");
  const int64_t offset = a.count(3, "offset"), n = a.count(4, "n"), root = a.count(5, "root");
  CK_CHECK(offset <= (int64_t(1) << 60) && n <= (int64_t(1) << 60), Code::Shape,
           "ncclRankBroadcast: offset + n too large");
  TensorRef x = a.f32(2, "x", offset + n);
  r->broadcast(cuda::contextOf(dev), x.f32() + offset, size_t(n), int(root));
  return info.Env().Undefined();
}

// ncclRankDestroy(group): frees the communicator once the collectives queued with it are done
// (the caller synchronizes first); later calls with the handle are ND_CLOSED.
Napi::Value NcclRankDestroy(const Napi::CallbackInfo& info) {
  rankOf(info[0], "ncclRankDestroy").reset();
  return info.Env().Undefined();
}

}  // namespace

void registerNcclRanks(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "ncclUniqueId", NcclUniqueId);
  CK_EXPORT(exports, "ncclJoin", NcclJoin);
  CK_EXPORT(exports, "ncclRankAllReduce", NcclRankAllReduce);
  CK_EXPORT(exports, "ncclRankBroadcast", NcclRankBroadcast);
  CK_EXPORT(exports, "ncclRankDestroy", NcclRankDestroy);
}

}  // namespace ck
