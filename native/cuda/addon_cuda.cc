// The CUDA addon's entry point: the CPU addon's own Init (native/napi/addon.cc, compiled here
// unchanged, so the two addons can never register different CPU bindings), then the CUDA
// bindings and the build flag. addon.cc ends with NODE_API_MODULE(convkit, Init); that macro is
// redefined below to capture Init instead of registering it.
#include <cuda_runtime_api.h>
#include <napi.h>

#include "napi_cuda.h"

#undef NODE_API_MODULE
#define NODE_API_MODULE(modname, regfunc)                           \
  namespace {                                                       \
  Napi::Object (*const cpuInit)(Napi::Env, Napi::Object) = regfunc; \
  }
#include "../napi/addon.cc"
#undef NODE_API_MODULE

namespace {

Napi::Object InitCuda(Napi::Env env, Napi::Object exports) {
  cpuInit(env, exports);
  ck::registerCuda(env, exports);
  Napi::Object build = exports.Get("build").As<Napi::Object>();
  build.Set("backend", "cuda");
  build.Set("cuda", true);
  build.Set("cudaRuntime", CUDART_VERSION);
  return exports;
}

napi_value RegisterConvkitCuda(napi_env env, napi_value exports) {
  return Napi::RegisterModule(env, exports, InitCuda);
}

}  // namespace

NAPI_MODULE(convkit_cuda, RegisterConvkitCuda)
