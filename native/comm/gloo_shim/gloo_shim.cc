// convkit_gloo.so: Gloo (Debian's libgloo-dev) behind the C interface of ../gloo_api.h. One
// context per process group: a full TCP mesh connected through convkit's TCP store, then
// all-reduce (sum), broadcast and barrier on float buffers in place.
//
// Every failure is caught here and returned as a status and a message: no C++ exception crosses
// the C interface. A context whose collective failed is broken for good (its peers are out of
// step or gone), so later calls fail at once with the first error instead of waiting again.
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "../gloo_api.h"
#include "tcp_store_client.h"

struct ck_gloo_ctx {
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  std::chrono::milliseconds timeout{0};
  int rank = 0;
  int size = 0;
  std::mutex mu;       // one collective at a time: a Gloo context is not safe for concurrent calls
  std::string broken;  // the first failure; empty while healthy
};

namespace {

void writeErr(char* err, size_t len, const std::string& msg) {
  if (err && len) std::snprintf(err, len, "%s", msg.c_str());
}

// Gloo reports a silent peer as an IoException whose text says "Timed out"; anything else from
// the transport is a connection that failed or closed (a peer died).
int classify(const gloo::IoException& e) {
  const char* w = e.what();
  return (std::strstr(w, "Timed out") || std::strstr(w, "timed out")) ? CK_GLOO_TIMEOUT : CK_GLOO_IO;
}

// Runs one collective under the context's lock, translating every exception into a status.
template <class Fn>
int guarded(ck_gloo_ctx* ctx, const char* op, char* err, size_t len, Fn&& fn) {
  if (!ctx) {
    writeErr(err, len, std::string(op) + ": no context");
    return CK_GLOO_ARG;
  }
  std::lock_guard<std::mutex> lk(ctx->mu);
  if (!ctx->broken.empty()) {
    writeErr(err, len, std::string(op) + ": the group is unusable since an earlier failure: " + ctx->broken);
    return CK_GLOO_IO;
  }
  int status = CK_GLOO_OTHER;
  std::string msg;
  try {
    fn();
    return CK_GLOO_OK;
  } catch (const gloo::IoException& e) {
    status = classify(e);
    msg = e.what();
  } catch (const std::exception& e) { msg = e.what(); } catch (...) {
    msg = "unknown failure";
  }
  ctx->broken = std::string(op) + ": " + msg;
  writeErr(err, len, msg);  // the caller names the op and the rank
  return status;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int ck_gloo_abi(void) { return CK_GLOO_ABI; }

__attribute__((visibility("default"))) const char* ck_gloo_version(void) {
  static const std::string v = "gloo " + std::to_string(GLOO_VERSION_MAJOR) + "." + std::to_string(GLOO_VERSION_MINOR) +
                               "." + std::to_string(GLOO_VERSION_PATCH) + " (tcp transport)";
  return v.c_str();
}

__attribute__((visibility("default"))) int ck_gloo_create(const ck_gloo_create_args* a, ck_gloo_ctx** out, char* err,
                                                          size_t len) {
  if (!a || !out || a->size < 1 || a->rank < 0 || a->rank >= a->size || a->timeout_ms < 1 || a->op_timeout_ms < 1 ||
      !a->store_host || !a->prefix || !a->hostname) {
    writeErr(err, len, "ck_gloo_create: bad arguments");
    return CK_GLOO_ARG;
  }
  *out = nullptr;
  try {
    auto ctx = std::make_unique<ck_gloo_ctx>();
    ctx->rank = a->rank;
    ctx->size = a->size;
    const std::chrono::milliseconds joinTimeout(a->timeout_ms);
    ctx->timeout = std::chrono::milliseconds(a->op_timeout_ms);
    ck::gloo_shim::TcpStoreClient store(a->store_host, a->store_port, joinTimeout);
    gloo::rendezvous::PrefixStore prefixed(a->prefix, store);
    gloo::transport::tcp::attr attr;
    attr.hostname = a->hostname;
    ctx->device = gloo::transport::tcp::CreateDevice(attr);
    ctx->context = std::make_shared<gloo::rendezvous::Context>(a->rank, a->size);
    ctx->context->setTimeout(joinTimeout);
    ctx->context->connectFullMesh(prefixed, ctx->device);
    ctx->context->setTimeout(ctx->timeout);  // from now on, the bound of every collective
    *out = ctx.release();
    return CK_GLOO_OK;
  } catch (const ck::gloo_shim::StoreError& e) {
    writeErr(err, len, std::string("rendezvous: ") + e.what());
    return e.timeout ? CK_GLOO_TIMEOUT : CK_GLOO_IO;
  } catch (const gloo::IoException& e) {
    writeErr(err, len, std::string("rendezvous: ") + e.what());
    return classify(e);
  } catch (const std::exception& e) {
    writeErr(err, len, std::string("rendezvous: ") + e.what());
    return CK_GLOO_OTHER;
  } catch (...) {
    writeErr(err, len, "rendezvous: unknown failure");
    return CK_GLOO_OTHER;
  }
}

__attribute__((visibility("default"))) int ck_gloo_allreduce_f32(ck_gloo_ctx* ctx, float* data, size_t count, char* err,
                                                                 size_t len) {
  return guarded(ctx, "allReduce", err, len, [&] {
    if (count == 0 || ctx->size == 1) return;
    gloo::AllreduceOptions opts(ctx->context);
    opts.setOutput(data, count);  // no input set: Gloo reduces the output buffer in place
    opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    opts.setTag(0);  // calls are serialised by ctx->mu, so one tag suffices
    opts.setTimeout(ctx->timeout);
    gloo::allreduce(opts);
  });
}

__attribute__((visibility("default"))) int ck_gloo_broadcast_f32(ck_gloo_ctx* ctx, float* data, size_t count, int root,
                                                                 char* err, size_t len) {
  if (ctx && (root < 0 || root >= ctx->size)) {
    writeErr(err, len, "broadcast: root " + std::to_string(root) + " is not a rank");
    return CK_GLOO_ARG;
  }
  return guarded(ctx, "broadcast", err, len, [&] {
    if (count == 0 || ctx->size == 1) return;
    gloo::BroadcastOptions opts(ctx->context);
    opts.setOutput(data, count);
    opts.setRoot(root);
    opts.setTag(1);
    opts.setTimeout(ctx->timeout);
    gloo::broadcast(opts);
  });
}

__attribute__((visibility("default"))) int ck_gloo_barrier(ck_gloo_ctx* ctx, char* err, size_t len) {
  return guarded(ctx, "barrier", err, len, [&] {
    if (ctx->size == 1) return;
    gloo::BarrierOptions opts(ctx->context);
    opts.setTag(2);
    opts.setTimeout(ctx->timeout);
    gloo::barrier(opts);
  });
}

__attribute__((visibility("default"))) void ck_gloo_destroy(ck_gloo_ctx* ctx) {
  try {
    delete ctx;
  } catch (...) {
    // A destructor that throws must not cross the C interface.
  }
}

}  // extern "C"
