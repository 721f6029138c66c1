// The CUDA addon's own bindings: status, library loading and the TF32 switch. Device tensors and
// per-device op dispatch go through the shared native/napi layer (native/napi/target.h).
#pragma once
#include <napi.h>

namespace ck {

void registerCuda(Napi::Env env, Napi::Object exports);

}  // namespace ck
