// Bindings of native/cpu/activation and their CUDA twins: argument conversion and
// per-device dispatch (target.h), nothing else.
#include "../cpu/activation.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/activation.h"
#endif

namespace ck {

namespace {

// The CUDA twins are template arguments only in the CUDA build (CK_ON_CUDA drops them otherwise).
#ifdef CONVKIT_CUDA
using CudaForwardFn = void (*)(cuda::Ctx&, const float*, float*, int64_t);
using CudaBackwardFn = void (*)(cuda::Ctx&, const float*, const float*, float*, int64_t);
#else
using CudaForwardFn = std::nullptr_t;
using CudaBackwardFn = std::nullptr_t;
#endif

// <name>(stream, x, y, n); x and y may be the same tensor (in place).
template <void (*Kernel)(const float*, float*, int64_t), CudaForwardFn CudaKernel>
Napi::Value Forward(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  const Target t = a.target(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  t.run(
      op, [=] { Kernel(x.f32(), y.f32(), n); }, CK_ON_CUDA([=](cuda::Ctx& c) { CudaKernel(c, x.f32(), y.f32(), n); }));
  return info.Env().Undefined();
}

// <name>Backward(stream, dy, y, dx, n): y is the forward's saved output.
template <void (*Kernel)(const float*, const float*, float*, int64_t), CudaBackwardFn CudaKernel>
Napi::Value Backward(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  const Target t = a.target(0);
  int64_t n = a.count(4, "n");
  TensorRef dy = a.f32(1, "dy", n), y = a.f32(2, "y", n), dx = a.f32(3, "dx", n);
  t.run(
      op, [=] { Kernel(dy.f32(), y.f32(), dx.f32(), n); },
      CK_ON_CUDA([=](cuda::Ctx& c) { CudaKernel(c, dy.f32(), y.f32(), dx.f32(), n); }));
  return info.Env().Undefined();
}

Napi::Value Relu(const Napi::CallbackInfo& i) {
  return Forward<cpu::reluForward, CK_ON_CUDA(cuda::reluForward)>(i, "relu");
}
Napi::Value ReluBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::reluBackward, CK_ON_CUDA(cuda::reluBackward)>(i, "reluBackward");
}
Napi::Value Tanh(const Napi::CallbackInfo& i) {
  return Forward<cpu::tanhForward, CK_ON_CUDA(cuda::tanhForward)>(i, "tanh");
}
Napi::Value TanhBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::tanhBackward, CK_ON_CUDA(cuda::tanhBackward)>(i, "tanhBackward");
}
Napi::Value Sigmoid(const Napi::CallbackInfo& i) {
  return Forward<cpu::sigmoidForward, CK_ON_CUDA(cuda::sigmoidForward)>(i, "sigmoid");
}
Napi::Value SigmoidBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::sigmoidBackward, CK_ON_CUDA(cuda::sigmoidBackward)>(i, "sigmoidBackward");
}
Napi::Value ScaledTanh(const Napi::CallbackInfo& i) {
  return Forward<cpu::scaledTanhForward, CK_ON_CUDA(cuda::scaledTanhForward)>(i, "scaledTanh");
}
Napi::Value ScaledTanhBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::scaledTanhBackward, CK_ON_CUDA(cuda::scaledTanhBackward)>(i, "scaledTanhBackward");
}

}  // namespace

void registerActivation(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "relu", Relu);
  CK_EXPORT(exports, "reluBackward", ReluBackward);
  CK_EXPORT(exports, "tanh", Tanh);
  CK_EXPORT(exports, "tanhBackward", TanhBackward);
  CK_EXPORT(exports, "sigmoid", Sigmoid);
  CK_EXPORT(exports, "sigmoidBackward", SigmoidBackward);
  CK_EXPORT(exports, "scaledTanh", ScaledTanh);
  CK_EXPORT(exports, "scaledTanhBackward", ScaledTanhBackward);
}

}  // namespace ck
