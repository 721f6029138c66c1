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
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw jsError(info.Env(), e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw jsError(info.Env(), Code::OOM, "out of host memory");
  } catch (const std::exception& e) {
    throw jsError(info.Env(), Code::Internal, e.what());
  }
}

#define CK_EXPORT(exports, name, fn) \
  (exports).Set((name), Napi::Function::New((exports).Env(), ::ck::guarded<fn>, (name)))

}  // namespace ck
