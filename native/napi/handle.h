// The JS side of a tensor's bytes: an External holding a heap TensorRef, type-tagged so a stray
// object passed as a tensor is refused instead of dereferenced. release() drops the reference
// (explicit dispose); the finalizer is the safety net for handles the user forgot.
#pragma once
#include <napi.h>

#include "../core/storage.h"

namespace ck {

struct HandleBox {
  TensorRef ref;  // ref.storage is null once released
};

Napi::Value makeHandle(Napi::Env env, TensorRef ref);
// Throws ND_ARG for a non-handle, ND_DISPOSED for a released one. `what` names the argument.
TensorRef& handleRef(const Napi::Value& v, const char* op, const char* what);
bool isHandle(const Napi::Value& v);
void releaseHandle(const Napi::Value& v);

}  // namespace ck
