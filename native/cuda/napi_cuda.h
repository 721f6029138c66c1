// The CUDA addon's own bindings (status and library loading). Device tensors and per-device op
// dispatch are wired through native/napi later; these exist so JS can report what is usable.
#pragma once
#include <napi.h>

namespace ck {

void registerCuda(Napi::Env env, Napi::Object exports);

}  // namespace ck
