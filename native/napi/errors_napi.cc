#include "errors_napi.h"

namespace ck {

Napi::Error jsError(Napi::Env env, Code code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, codeName(code)));
  return err;
}

}  // namespace ck
