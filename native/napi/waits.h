// Per-environment (main thread or worker) machinery that settles promises from stream threads.
#pragma once
#include <napi.h>

namespace ck {

void initWaits(Napi::Env env, Napi::Object exports);

}  // namespace ck
