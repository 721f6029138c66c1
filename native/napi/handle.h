// The JS side of a tensor's bytes: an External holding a heap TensorRef, type-tagged so a stray
// object passed as a tensor is refused instead of dereferenced. release() drops the reference
// (explicit dispose); the finalizer is the safety net for handles the user forgot.
//
// External memory: V8 sees only the small External, so a loop that forgets dispose() could hold
// gigabytes of native bytes without the JS heap ever growing enough to collect them. A handle
// that created its storage reports the storage's bytes to V8 (napi_adjust_external_memory) and
// takes them back when it is released or finalized, so undisposed tensors are collected under
// native memory pressure. V8 is told the net change in batches (handle.cc: bytes made and
// disposed within a training step are never told, so they do not start a full GC). Both happen
// on the JS thread of the environment that made the handle (bindings and finalizers run there);
// the storage itself may be freed later on a stream thread, which never touches V8. Views
// (reshape, to() on the same device) share a storage and report nothing, so bytes are never
// counted twice.
#pragma once
#include <napi.h>

#include "../core/storage.h"

namespace ck {

struct HandleBox {
  TensorRef ref;         // ref.storage is null once released
  int64_t reported = 0;  // bytes reported to V8 for this handle, given back at release
};

// `owner`: the handle made the storage (alloc, upload) and reports its bytes; a view does not.
Napi::Value makeHandle(Napi::Env env, TensorRef ref, bool owner);
// Bytes all environments have reported to V8 and not yet taken back (for tests, memoryStats).
int64_t reportedExternalBytes();
// Throws ND_ARG for a non-handle, ND_DISPOSED for a released one. `what` names the argument.
TensorRef& handleRef(const Napi::Value& v, const char* op, const char* what);
bool isHandle(const Napi::Value& v);
void releaseHandle(const Napi::Value& v);

}  // namespace ck
