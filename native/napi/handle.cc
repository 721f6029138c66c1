#include "handle.h"

#include <algorithm>
#include <atomic>

#include "errors_napi.h"

namespace ck {

namespace {
const napi_type_tag kHandleTag = {0x636f6e766b697421ULL, 0x74656e736f72ULL};  // "convkit!" "tensor"

// Per-process total of what handles have reported; each handle remembers its own share, so
// this is only for tests and diagnostics (every environment's V8 isolate is told separately).
std::atomic<int64_t> gReported{0};

// What this thread's environment has told V8, and the handles' net change not told yet. V8
// starts a full mark-compact whenever its external count rises 64 MiB above the count at its
// last one, so telling it every handle at once made a training step (hundreds of MiB of
// activations made and disposed within the step) pay a full GC each step, its marking on the
// JS thread and V8's helpers competing with the kernels for the cores (AlexNet b16: conv1's
// forward, the step's first op, ran ~40% slower beside it). A rise is passed on only once it
// reaches kMinUntold or half of what V8 was told, so bytes made and disposed within one step
// cancel out here, while forgotten tensors still reach V8 once they add up (memory that grows
// by half is always told). A net fall is told at once: a lower count never starts a GC, and a
// count left high after a GC freed forgotten tensors would delay the next one. Bindings and finalizers run on their
// environment's JS thread, one environment per thread (workers have their own), so thread-local state is per
// environment.
constexpr int64_t kMinUntold = int64_t(16) << 20;
struct V8Account {
  int64_t told = 0;
  int64_t untold = 0;
};
thread_local V8Account tAccount;

// Never throws: called from finalizers, where an escaping exception would be std::terminate.
// Returns whether the change was accounted (false when V8 refused it, at environment teardown).
bool adjust(Napi::Env env, int64_t delta) {
  if (delta == 0) return true;
  V8Account& a = tAccount;
  const int64_t untold = a.untold + delta, bound = std::max(kMinUntold, a.told / 2);
  if (untold >= 0 && untold < bound) {
    a.untold = untold;
  } else {
    int64_t unused;
    if (napi_adjust_external_memory(env, untold, &unused) != napi_ok) return false;
    a.told += untold;
    a.untold = 0;
  }
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
