// Turning ck::Error into JS Errors with `.code`, and the wrapper every binding goes through so
// that no C++ exception ever escapes into Node.
#pragma once
#include <napi.h>

#include "../core/errors.h"
#include "../core/stream.h"

namespace ck {

Napi::Error jsError(Napi::Env env, Code code, const std::string& message);
inline Napi::Error jsError(Napi::Env env, const StreamError& e) { return jsError(env, e.code, e.message); }

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) { throw; } catch (const Error& e) {
    throw jsError(info.Env(), e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw jsError(info.Env(), Code::OOM, "out of host memory");
  } catch (const std::exception& e) { throw jsError(info.Env(), Code::Internal, e.what()); } catch (...) {
    throw jsError(info.Env(), Code::Internal, "unknown native failure");
  }
}

// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (binding.gyp, CMakeLists.txt): when a worker's
// environment is terminating, napi_throw itself fails; without it node-addon-api rethrows from
// inside its callback wrapper and the whole process aborts (std::terminate).

#define CK_EXPORT(exports, name, fn) \
  (exports).Set((name), Napi::Function::New((exports).Env(), ::ck::guarded<fn>, (name)))

}  // namespace ck
