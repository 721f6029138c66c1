// synchronize(), read() and their synchronous forms, on any device (native/core/device.h). An async wait
// queues a signal on the device's stream; when the stream reaches it (the CPU executor, or the
// CUDA device's waiter thread), the result travels back to the JS thread through one
// thread-safe function per environment, which stays ref'd only while a wait is pending so an
// idle convkit never keeps the process alive.
#include "waits.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "../core/stream.h"
#include "args.h"
#include "errors_napi.h"

namespace ck {

namespace {

struct Completion {
  Napi::Promise::Deferred deferred;
  std::optional<StreamError> error;
  bool wantsBytes = false;
  std::vector<char> bytes;
  std::vector<Napi::ObjectReference> keep;  // released on the JS thread when settled
};

void settle(Napi::Env env, Napi::Function, void* ctx, Completion* c);
using Tsfn = Napi::TypedThreadSafeFunction<void, Completion, settle>;

// Shared by the environment and every queued signal: a stream thread may finish a wait after a
// worker thread's environment is gone, so posting checks `alive` under the lock.
struct Channel {
  std::mutex mu;
  bool alive = true;
  Tsfn tsfn;
};

struct EnvState {
  std::shared_ptr<Channel> channel;
  int64_t pending = 0;  // touched on the JS thread only
};

EnvState* state(Napi::Env env) { return env.GetInstanceData<EnvState>(); }

// Runs on the JS thread through the thread-safe function. No exception may leave it: it is called
// from node-addon-api's CallJsInternal, outside any binding's try, so one escaping here is
// std::terminate (SIGABRT of the whole process). It happens for real: while a worker's
// environment is being torn down (worker.terminate() with waits pending), every napi call fails
// and node-addon-api throws Napi::Error from Resolve/Reject/ArrayBuffer::New.
void settleNow(Napi::Env env, Completion* c) {
  EnvState* st = state(env);
  if (st && --st->pending == 0) st->channel->tsfn.Unref(env);
  if (c->error) {
    c->deferred.Reject(jsError(env, *c->error).Value());
  } else if (c->wantsBytes) {
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, c->bytes.size());
    if (!c->bytes.empty()) std::memcpy(buf.Data(), c->bytes.data(), c->bytes.size());
    c->deferred.Resolve(buf);
  } else {
    c->deferred.Resolve(env.Undefined());
  }
}

void settle(Napi::Env env, Napi::Function, void*, Completion* c) {
  std::unique_ptr<Completion> owned(c);
  if (env == nullptr) {
    // The thread-safe function is being torn down: nobody to tell, and no environment left to
    // delete the kept references in.
    for (Napi::ObjectReference& r : c->keep) r.SuppressDestruct();
    return;
  }
  try {
    settleNow(env, c);
  } catch (const Napi::Error&) {
    // The environment is going away (or JS cannot run): the promise is unreachable anyway.
    // A pending JS exception left by the failed call is cleared so it cannot surface elsewhere.
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  } catch (...) {
    // bad_alloc copying the bytes, or anything else: never std::terminate the process.
  }
}

Completion* newCompletion(Napi::Env env) {
  EnvState* st = state(env);
  if (st->pending++ == 0) st->channel->tsfn.Ref(env);
  auto* c = new Completion{Napi::Promise::Deferred::New(env), std::nullopt, false, {}, {}};
  return c;
}

// Undoes newCompletion when queueing the signal failed, so that a failed wait neither leaks
// nor leaves the thread-safe function ref'd (which would keep Node from exiting).
void abandon(Napi::Env env, Completion* c) {
  EnvState* st = state(env);
  if (--st->pending == 0) st->channel->tsfn.Unref(env);
  delete c;
}

void post(const std::shared_ptr<Channel>& ch, Completion* c) {
  std::lock_guard<std::mutex> lk(ch->mu);
  if (!ch->alive || ch->tsfn.NonBlockingCall(c) != napi_ok) {
    // The environment is gone: its references cannot be deleted from here (nor at all).
    for (Napi::ObjectReference& r : c->keep) r.SuppressDestruct();
    delete c;
  }
}

}  // namespace

Napi::Promise promiseFromStream(Napi::Env env, const std::vector<Napi::Object>& keep,
                                const std::function<void(Settle)>& queue) {
  Completion* c = newCompletion(env);
  Napi::Promise p = c->deferred.Promise();
  std::shared_ptr<Channel> ch = state(env)->channel;
  try {
    for (const Napi::Object& o : keep) c->keep.push_back(Napi::Persistent(o));
    queue([c, ch](std::optional<StreamError> err) {
      c->error = std::move(err);
      post(ch, c);
    });
  } catch (...) {
    abandon(env, c);
    throw;
  }
  return p;
}

namespace {

// synchronize(stream) -> Promise<void>
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Args a(info, "synchronize");
  Device& dev = a.device(0);
  return promiseFromStream(info.Env(), {}, [&](Settle settle) { dev.signal(std::move(settle)); });
}

// read(stream, handle) -> Promise<ArrayBuffer>: a copy of the bytes once queued ops have run.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Args a(info, "read");
  Device& dev = a.device(0);
  TensorRef r = a.tensor(1, "tensor", 0);
  Completion* c = newCompletion(info.Env());
  c->wantsBytes = true;
  Napi::Promise p = c->deferred.Promise();
  std::shared_ptr<Channel> tsfn = state(info.Env())->channel;
  try {
    dev.read(r, [c, tsfn](std::optional<StreamError> err, std::vector<char>&& bytes) {
      c->error = std::move(err);
      c->bytes = std::move(bytes);
      post(tsfn, c);
    });
  } catch (...) {
    abandon(info.Env(), c);
    throw;
  }
  return p;
}

void throwIfError(Napi::Env env, std::optional<StreamError> err) {
  if (err) throw jsError(env, *err);
}

Napi::Value SynchronizeSync(const Napi::CallbackInfo& info) {
  Args a(info, "synchronizeSync");
  throwIfError(info.Env(), a.device(0).waitIdle());
  return info.Env().Undefined();
}

Napi::Value ReadSync(const Napi::CallbackInfo& info) {
  Args a(info, "readSync");
  Device& dev = a.device(0);
  TensorRef r = a.tensor(1, "tensor", 0);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), r.bytes);
  throwIfError(info.Env(), dev.readSync(r, buf.Data()));
  return buf;
}

Napi::Value Pending(const Napi::CallbackInfo& info) {
  Args a(info, "pending");
  return Napi::Number::New(info.Env(), double(a.device(0).pending()));
}

}  // namespace

void initWaits(Napi::Env env, Napi::Object exports) {
  auto* st = new EnvState();
  st->channel = std::make_shared<Channel>();
  st->channel->tsfn = Tsfn::New(env, "convkit-waits", 0, 1, nullptr);
  st->channel->tsfn.Unref(env);
  env.SetInstanceData<EnvState>(st);  // deleted by node-addon-api at environment teardown
  // Registered after the thread-safe function, so it runs before Node closes it.
  std::shared_ptr<Channel> ch = st->channel;
  env.AddCleanupHook([ch]() {
    std::lock_guard<std::mutex> lk(ch->mu);
    ch->alive = false;
  });
  CK_EXPORT(exports, "synchronize", Synchronize);
  CK_EXPORT(exports, "read", Read);
  CK_EXPORT(exports, "synchronizeSync", SynchronizeSync);
  CK_EXPORT(exports, "readSync", ReadSync);
  CK_EXPORT(exports, "pending", Pending);
}

}  // namespace ck
