// Bindings of the Gloo engine (native/comm/gloo_loader.h): loading the shim, joining a group off
// the JS thread, and collectives queued on a CPU stream like any op. A collective blocks the
// stream's executor thread inside Gloo until every rank has taken part; the JS thread never waits.
// A failure (a dead or silent peer) surfaces at the next wait on that stream, naming the op and
// the rank. Argument conversion only; the policy (which ranks, which timeout) is lib/parallel's.
#include <memory>
#include <string>

#include "../comm/gloo_loader.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

const napi_type_tag kCommTag = {0x636f6e766b697421ULL, 0x676c6f6f636f6dULL};  // "convkit!" "gloocom"

struct CommBox {
  std::shared_ptr<comm::GlooComm> comm;  // null once destroyed; queued ops hold their own reference
};

std::shared_ptr<comm::GlooComm> commOf(const Napi::Value& v, const char* op) {
  if (!v.IsExternal() || !v.As<Napi::External<CommBox>>().CheckTypeTag(&kCommTag))
    throw Error(Code::Arg, std::string(op) + ": 'group' is not a Gloo group handle");
  CommBox* box = v.As<Napi::External<CommBox>>().Data();
  if (!box->comm) throw Error(Code::Disposed, std::string(op) + ": the Gloo group was destroyed");
  return box->comm;
}

std::string str(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (!info[i].IsString()) throw Error(Code::Arg, std::string(op) + ": '" + what + "' must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// glooLoad(path) -> { loaded, version?, reason?, path }
Napi::Value GlooLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string why = comm::loadGloo(str(info, 0, "glooLoad", "path"));
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", why.empty());
  o.Set("path", comm::glooPath());
  if (why.empty()) o.Set("version", comm::glooVersion());
  else o.Set("reason", why);
  return o;
}

// Joins the group on a libuv worker thread (the rendezvous waits for every rank).
class CreateWorker : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, ck_gloo_create_args args, std::string host, std::string prefix, std::string hostname)
      : Napi::AsyncWorker(env, "convkit-gloo-create"),
        deferred_(Napi::Promise::Deferred::New(env)),
        args_(args),
        host_(std::move(host)),
        prefix_(std::move(prefix)),
        hostname_(std::move(hostname)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    args_.store_host = host_.c_str();
    args_.prefix = prefix_.c_str();
    args_.hostname = hostname_.c_str();
    try {
      comm_ = comm::GlooComm::create(args_);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = Code::Internal;
      SetError(e.what());
    } catch (...) {
      code_ = Code::Internal;
      SetError("gloo: unknown failure joining the group");
    }
  }
  void OnOK() override {
    auto ext = Napi::External<CommBox>::New(Env(), new CommBox{comm_}, [](Napi::Env, CommBox* b) { delete b; });
    ext.TypeTag(&kCommTag);
    deferred_.Resolve(ext);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(jsError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ck_gloo_create_args args_;
  std::string host_, prefix_, hostname_;
  std::shared_ptr<comm::GlooComm> comm_;
  Code code_ = Code::Internal;
};

// glooCreate(rank, size, storeHost, storePort, prefix, timeoutMs, hostname, opTimeoutMs) -> Promise<group>
Napi::Value GlooCreate(const Napi::CallbackInfo& info) {
  Args a(info, "glooCreate");
  if (!comm::glooLoaded()) throw Error(Code::Arg, "glooCreate: the Gloo shim is not loaded (glooLoad first)");
  const int64_t rank = a.count(0, "rank"), size = a.count(1, "size"), port = a.count(3, "storePort");
  const int64_t timeoutMs = a.count(5, "timeoutMs"), opTimeoutMs = a.count(7, "opTimeoutMs");
  CK_CHECK(size >= 1 && size <= 1 << 20 && rank < size, Code::Arg, "glooCreate: rank must be below size");
  CK_CHECK(port >= 1 && port <= 65535, Code::Arg, "glooCreate: storePort must be in [1, 65535]");
  CK_CHECK(timeoutMs >= 1 && timeoutMs <= 0x7fffffff, Code::Arg, "glooCreate: timeoutMs must be in [1, 2^31)");
  CK_CHECK(opTimeoutMs >= 1 && opTimeoutMs <= 0x7fffffff, Code::Arg, "glooCreate: opTimeoutMs must be in [1, 2^31)");
  ck_gloo_create_args args{};
  args.rank = int(rank);
  args.size = int(size);
  args.store_port = int(port);
  args.timeout_ms = int(timeoutMs);
  args.op_timeout_ms = int(opTimeoutMs);
  auto* w = new CreateWorker(info.Env(), args, str(info, 2, "glooCreate", "storeHost"),
                             str(info, 4, "glooCreate", "prefix"), str(info, 6, "glooCreate", "hostname"));
  Napi::Promise p = w->promise();
  w->Queue();  // deleted by node-addon-api after OnOK/OnError
  return p;
}

// glooAllReduce(stream, group, x, offset, n, mean): x[offset .. offset+n) summed (or averaged)
// over the ranks, in place.
Napi::Value GlooAllReduce(const Napi::CallbackInfo& info) {
  Args a(info, "glooAllReduce");
  CpuStream& s = a.cpuOnly(0, "a Gloo all-reduce");
  std::shared_ptr<comm::GlooComm> c = commOf(info[1], "glooAllReduce");
  const int64_t offset = a.count(3, "offset"), n = a.count(4, "n");
  CK_CHECK(offset <= (int64_t(1) << 60) && n <= (int64_t(1) << 60), Code::Shape, "glooAllReduce: offset + n too large");
  TensorRef x = a.f32(2, "x", offset + n);
  const bool mean = a.flag(5);
  s.enqueue("allReduce", [c, x, offset, n, mean] {
    float* p = x.f32() + offset;
    c->allReduceSum(p, size_t(n));
    if (mean && c->size() > 1) {
      const float k = float(c->size());
      for (int64_t i = 0; i < n; i++) p[i] /= k;
    }
  });
  return info.Env().Undefined();
}

// glooBroadcast(stream, group, x, offset, n, root)
Napi::Value GlooBroadcast(const Napi::CallbackInfo& info) {
  Args a(info, "glooBroadcast");
  CpuStream& s = a.cpuOnly(0, "a Gloo broadcast");
  std::shared_ptr<comm::GlooComm> c = commOf(info[1], "glooBroadcast");
  const int64_t offset = a.count(3, "offset"), n = a.count(4, "n"), root = a.count(5, "root");
  CK_CHECK(offset <= (int64_t(1) << 60) && n <= (int64_t(1) << 60), Code::Shape, "glooBroadcast: offset + n too large");
  CK_CHECK(root < c->size(), Code::Arg, "glooBroadcast: root " + std::to_string(root) + " is not a rank");
  TensorRef x = a.f32(2, "x", offset + n);
  s.enqueue("broadcast", [c, x, offset, n, root] { c->broadcast(x.f32() + offset, size_t(n), int(root)); });
  return info.Env().Undefined();
}

// glooBarrier(stream, group): queued; the next wait on the stream returns once every rank is there.
Napi::Value GlooBarrier(const Napi::CallbackInfo& info) {
  Args a(info, "glooBarrier");
  CpuStream& s = a.cpuOnly(0, "a Gloo barrier");
  std::shared_ptr<comm::GlooComm> c = commOf(info[1], "glooBarrier");
  s.enqueue("barrier", [c] { c->barrier(); });
  return info.Env().Undefined();
}

// glooDestroy(group): drops the handle's reference; the context closes once queued ops are done.
Napi::Value GlooDestroy(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal() || !info[0].As<Napi::External<CommBox>>().CheckTypeTag(&kCommTag))
    throw Error(Code::Arg, "glooDestroy: 'group' is not a Gloo group handle");
  info[0].As<Napi::External<CommBox>>().Data()->comm.reset();
  return info.Env().Undefined();
}

}  // namespace

void registerGloo(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "glooLoad", GlooLoad);
  CK_EXPORT(exports, "glooCreate", GlooCreate);
  CK_EXPORT(exports, "glooAllReduce", GlooAllReduce);
  CK_EXPORT(exports, "glooBroadcast", GlooBroadcast);
  CK_EXPORT(exports, "glooBarrier", GlooBarrier);
  CK_EXPORT(exports, "glooDestroy", GlooDestroy);
}

}  // namespace ck
