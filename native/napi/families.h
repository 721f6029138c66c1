// One registration function per binding file; addon.cc calls them all. Each kernel family has
// its own binding file so that adding a family touches only its own files and this list.
#pragma once
#include <napi.h>

namespace ck {

void registerTensors(Napi::Env env, Napi::Object exports);
void registerElementwise(Napi::Env env, Napi::Object exports);
void registerGemm(Napi::Env env, Napi::Object exports);
void registerConv(Napi::Env env, Napi::Object exports);
void registerPool(Napi::Env env, Napi::Object exports);
void registerLrn(Napi::Env env, Napi::Object exports);
void registerActivation(Napi::Env env, Napi::Object exports);
void registerDropout(Napi::Env env, Napi::Object exports);
void registerLinear(Napi::Env env, Napi::Object exports);
void registerLoss(Napi::Env env, Napi::Object exports);
void registerRbf(Napi::Env env, Napi::Object exports);
void registerCapture(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerIsa(Napi::Env env, Napi::Object exports);
void registerGloo(Napi::Env env, Napi::Object exports);
void registerComm(Napi::Env env, Napi::Object exports);
#ifdef CONVKIT_CUDA
// ops_cuda.cc, in the CUDA build only: registers the cuda:N devices (native/cuda/device_cuda.h),
// the CUDA bindings, and marks `build` as the CUDA backend.
void registerCuda(Napi::Env env, Napi::Object exports, Napi::Object build);
// ops_nccl_cuda.cc: one process's rank in a multi-process NCCL group (lib/parallel).
void registerNcclRanks(Napi::Env env, Napi::Object exports);
#endif

}  // namespace ck
