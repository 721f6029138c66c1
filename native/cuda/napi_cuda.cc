// cudaStatus() -> { available, reason, devices: [{ index, name, computeCapability, memoryBytes }],
//                   runtimeVersion, driverVersion }
// cudaLoadCublas() -> { path, version } or throws ND_NO_CUDA naming every place searched.
// cudaTf32(stream, on?) -> whether cuda:N's SGEMMs use TF32 tensor cores; with `on`, sets it
// first (for the GEMMs queued from then on) and returns the previous setting.
// Neither needs a GPU to run: without one, cudaStatus reports why and cudaLoadCublas still tries
// the library (it loads without a device).
#include <cuda_runtime_api.h>

#include "../napi/args.h"
#include "../napi/errors_napi.h"
#include "context.h"
#include "cublas_loader.h"
#include "napi_cuda.h"

namespace ck {

namespace {

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::string why;
  int n = cuda::deviceCount(&why);
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  cudaGetLastError();
  o.Set("available", n > 0);
  if (n == 0) o.Set("reason", "no CUDA device: " + why);
  o.Set("runtimeVersion", runtime);
  o.Set("driverVersion", driver);
  Napi::Array devices = Napi::Array::New(env);
  for (int i = 0; i < n; i++) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", i);
    d.Set("name", prop.name);
    d.Set("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
    d.Set("memoryBytes", double(prop.totalGlobalMem));
    d.Set("multiprocessors", prop.multiProcessorCount);
    devices.Set(devices.Length(), d);
  }
  o.Set("devices", devices);
  return o;
}

Napi::Value CudaLoadCublas(const Napi::CallbackInfo& info) {
  const cuda::Cublas& lib = cuda::cublas();  // throws ND_NO_CUDA with the search list
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("path", lib.path);
  return o;
}

Napi::Value CudaTf32(const Napi::CallbackInfo& info) {
  Args a(info, "cudaTf32");
  const Target t = a.target(0);
  if (!t.cuda) throw Error(Code::Arg, "cudaTf32: " + t.name() + " is not a CUDA device");
  const bool was = t.cuda->tf32;
  if (info.Length() > 1 && !info[1].IsUndefined()) t.cuda->tf32 = a.flag(1);
  return Napi::Boolean::New(info.Env(), was);
}

}  // namespace

void registerCuda(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "cudaStatus", CudaStatus);
  CK_EXPORT(exports, "cudaLoadCublas", CudaLoadCublas);
  CK_EXPORT(exports, "cudaTf32", CudaTf32);
}

}  // namespace ck
