// The CUDA build's own bindings (compiled only there: scripts/native-sources.cjs leaves *_cuda.cc
// out of the CPU build). Argument conversion only; native/cuda/status.h and device_cuda.h do the
// work.
// cudaStatus() -> { available, reason, devices: [{ index, name, computeCapability, memoryBytes,
//                   multiprocessors }], runtimeVersion, driverVersion }
// cudaLoadCublas() -> { path } or throws ND_NO_CUDA naming every place searched.
// cudaTf32(stream, on?) -> whether cuda:N's SGEMMs use TF32 tensor cores; with `on`, sets it
// first (for the GEMMs queued from then on) and returns the previous setting.
// Neither needs a GPU to run: without one, cudaStatus reports why and cudaLoadCublas still tries
// the library (it loads without a device).
#include "../cuda/nccl_engine.h"
#include "../cuda/device_cuda.h"
#include "../cuda/status.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::Status s = cuda::status();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", s.available);
  if (!s.available) o.Set("reason", s.reason);
  o.Set("runtimeVersion", s.runtimeVersion);
  o.Set("driverVersion", s.driverVersion);
  Napi::Array devices = Napi::Array::New(env);
  for (const cuda::DeviceInfo& i : s.devices) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", i.index);
    d.Set("name", i.name);
    d.Set("computeCapability", i.computeCapability);
    d.Set("memoryBytes", i.memoryBytes);
    d.Set("multiprocessors", i.multiprocessors);
    devices.Set(devices.Length(), d);
  }
  o.Set("devices", devices);
  return o;
}

Napi::Value CudaLoadCublas(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("path", cuda::cublasPath());  // throws ND_NO_CUDA with the search list
  return o;
}

Napi::Value CudaTf32(const Napi::CallbackInfo& info) {
  Args a(info, "cudaTf32");
  Device& dev = a.device(0);
  if (dev.kind() != DeviceKind::Cuda) throw Error(Code::Arg, "cudaTf32: " + dev.name() + " is not a CUDA device");
  cuda::Ctx& c = cuda::contextOf(dev);
  const bool was = c.tf32;
  if (info.Length() > 1 && !info[1].IsUndefined()) c.tf32 = a.flag(1);
  return Napi::Boolean::New(info.Env(), was);
}

}  // namespace

void registerCuda(Napi::Env env, Napi::Object exports, Napi::Object build) {
  cuda::registerDevices();
  cuda::registerCollectives();
  registerNcclRanks(env, exports);
  CK_EXPORT(exports, "cudaStatus", CudaStatus);
  CK_EXPORT(exports, "cudaLoadCublas", CudaLoadCublas);
  CK_EXPORT(exports, "cudaTf32", CudaTf32);
  build.Set("backend", "cuda");
  build.Set("cuda", true);
  build.Set("cudaRuntime", cuda::builtRuntimeVersion());
}

}  // namespace ck
