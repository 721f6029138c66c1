// The addon's entry point, for both builds: a list of registrations and the build's
// self-description. No math. The CUDA build (CONVKIT_CUDA) adds its own bindings and registers
// its devices (ops_cuda.cc); nothing else differs.
#include <napi.h>

#include "../cpu/gemm.h"
#include "families.h"
#include "waits.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ck::initWaits(env, exports);
  ck::registerTensors(env, exports);
  ck::registerElementwise(env, exports);
  ck::registerGemm(env, exports);
  ck::registerConv(env, exports);
  ck::registerPool(env, exports);
  ck::registerLrn(env, exports);
  ck::registerActivation(env, exports);
  ck::registerDropout(env, exports);
  ck::registerLinear(env, exports);
  ck::registerLoss(env, exports);
  ck::registerRbf(env, exports);
  ck::registerOptim(env, exports);
  ck::registerCapture(env, exports);
  ck::registerIsa(env, exports);
  ck::registerComm(env, exports);
  ck::registerGloo(env, exports);
  Napi::Object build = Napi::Object::New(env);
  build.Set("backend", "cpu");
  build.Set("cuda", false);
  build.Set("simd", ck::cpu::sgemmKernelName());  // the GEMM micro-kernel at load (isa.h)
#ifdef CONVKIT_CUDA
  ck::registerCuda(env, exports, build);
#endif
  exports.Set("build", build);
  return exports;
}

}  // namespace

NODE_API_MODULE(convkit, Init)
