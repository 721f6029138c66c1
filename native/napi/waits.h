// Per-environment (main thread or worker) machinery that settles promises from stream threads.
#pragma once
#include <napi.h>

#include <functional>
#include <optional>
#include <vector>

#include "../core/stream.h"

namespace ck {

void initWaits(Napi::Env env, Napi::Object exports);

// Called once, from any thread, to settle a promise made by promiseFromStream (an error rejects).
using Settle = std::function<void(std::optional<StreamError>)>;

// A promise that a stream thread settles through this environment's thread-safe function, as
// synchronize() and read() are. `queue` runs at once on the JS thread and hands `settle` to the
// stream (if it throws, nothing is left pending and the error propagates). `keep` holds JS
// objects alive until the promise settles: the buffers a stream thread writes into.
Napi::Promise promiseFromStream(Napi::Env env, const std::vector<Napi::Object>& keep,
                                const std::function<void(Settle)>& queue);

}  // namespace ck
