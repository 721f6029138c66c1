#include "handle.h"

#include <atomic>

#include "errors_napi.h"

namespace ck {

namespace {
const napi_type_tag kHandleTag = {0x636f6e766b697421ULL, 0x74656e736f72ULL};  // "convkit!" "tensor"

// Per-process total of what handles have reported; each handle remembers its own share, so
// this is only for tests and diagnostics (every environment's V8 isolate is told separately).
std::atomic<int64_t> gReported{0};

// Never throws: called from finalizers, where an escaping exception would be std::terminate.
// Returns whether V8 took the adjustment (it may not at environment teardown).
bool adjust(Napi::Env env, int64_t delta) {
  if (delta == 0) return true;
  int64_t unused;
  if (napi_adjust_external_memory(env, delta, &unused) != napi_ok) return false;
  gReported += delta;
  return true;
}

void giveBack(Napi::Env env, HandleBox* box) {
  const int64_t r = box->reported;
  box->reported = 0;
  adjust(env, -r);
}
}  // namespace

Napi::Value makeHandle(Napi::Env env, TensorRef ref, bool owner) {
  const int64_t bytes = owner && ref.storage ? int64_t(ref.storage->bytes) : 0;
  auto* box = new HandleBox{std::move(ref), 0};
  Napi::External<HandleBox> ext;
  try {
    ext = Napi::External<HandleBox>::New(env, box, [](Napi::Env e, HandleBox* b) {
      // At environment teardown the adjustment may fail; adjust() ignores that.
      giveBack(e, b);
      delete b;
    });
  } catch (...) {
    delete box;
    throw;
  }
  ext.TypeTag(&kHandleTag);
  if (adjust(env, bytes)) box->reported = bytes;
  return ext;
}

int64_t reportedExternalBytes() { return gReported.load(); }

bool isHandle(const Napi::Value& v) {
  if (!v.IsExternal()) return false;
  return v.As<Napi::External<HandleBox>>().CheckTypeTag(&kHandleTag);
}

TensorRef& handleRef(const Napi::Value& v, const char* op, const char* what) {
  if (!isHandle(v)) throw Error(Code::Arg, std::string(op) + ": argument '" + what + "' is not a tensor handle");
  HandleBox* box = v.As<Napi::External<HandleBox>>().Data();
  if (!box->ref.storage) throw Error(Code::Disposed, std::string(op) + ": argument '" + what + "' was disposed");
  return box->ref;
}

void releaseHandle(const Napi::Value& v) {
  if (!isHandle(v)) return;
  HandleBox* box = v.As<Napi::External<HandleBox>>().Data();
  box->ref.storage.reset();
  giveBack(v.Env(), box);
}

}  // namespace ck
