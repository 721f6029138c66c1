// Bindings of native/cpu/activation and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../cpu/activation.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/activation.h"
#endif

namespace ck {

namespace {

// <name>(stream, x, y, n); x and y may be the same tensor (in place). `kernel` is CK_KERNEL(name).
template <class Kernel>
Napi::Value Forward(const Napi::CallbackInfo& info, const char* op, Kernel kernel) {
  Args a(info, op);
  Device& dev = a.device(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  dispatch(dev, op, [=](auto& kc) { kernel(kc, x.f32(), y.f32(), n); });
  return info.Env().Undefined();
}

// <name>Backward(stream, dy, y, dx, n): y is the forward's saved output.
template <class Kernel>
Napi::Value Backward(const Napi::CallbackInfo& info, const char* op, Kernel kernel) {
  Args a(info, op);
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef dy = a.f32(1, "dy", n), y = a.f32(2, "y", n), dx = a.f32(3, "dx", n);
  dispatch(dev, op, [=](auto& kc) { kernel(kc, dy.f32(), y.f32(), dx.f32(), n); });
  return info.Env().Undefined();
}

Napi::Value Relu(const Napi::CallbackInfo& i) { return Forward(i, "relu", CK_KERNEL(reluForward)); }
Napi::Value ReluBackward(const Napi::CallbackInfo& i) { return Backward(i, "reluBackward", CK_KERNEL(reluBackward)); }
Napi::Value Tanh(const Napi::CallbackInfo& i) { return Forward(i, "tanh", CK_KERNEL(tanhForward)); }
Napi::Value TanhBackward(const Napi::CallbackInfo& i) { return Backward(i, "tanhBackward", CK_KERNEL(tanhBackward)); }
Napi::Value Sigmoid(const Napi::CallbackInfo& i) { return Forward(i, "sigmoid", CK_KERNEL(sigmoidForward)); }
Napi::Value SigmoidBackward(const Napi::CallbackInfo& i) {
  return Backward(i, "sigmoidBackward", CK_KERNEL(sigmoidBackward));
}
Napi::Value ScaledTanh(const Napi::CallbackInfo& i) { return Forward(i, "scaledTanh", CK_KERNEL(scaledTanhForward)); }
Napi::Value ScaledTanhBackward(const Napi::CallbackInfo& i) {
  return Backward(i, "scaledTanhBackward", CK_KERNEL(scaledTanhBackward));
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
