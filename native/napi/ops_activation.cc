// Bindings of native/cpu/activation: argument conversion and enqueue, nothing else.
#include "../cpu/activation.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

// <name>(stream, x, y, n); x and y may be the same tensor (in place).
template <void (*Kernel)(const float*, float*, int64_t)>
Napi::Value Forward(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  CpuStream& s = a.stream(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  s.enqueue(op, [=] { Kernel(x.f32(), y.f32(), n); });
  return info.Env().Undefined();
}

// <name>Backward(stream, dy, y, dx, n): y is the forward's saved output.
template <void (*Kernel)(const float*, const float*, float*, int64_t)>
Napi::Value Backward(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  CpuStream& s = a.stream(0);
  int64_t n = a.count(4, "n");
  TensorRef dy = a.f32(1, "dy", n), y = a.f32(2, "y", n), dx = a.f32(3, "dx", n);
  s.enqueue(op, [=] { Kernel(dy.f32(), y.f32(), dx.f32(), n); });
  return info.Env().Undefined();
}

Napi::Value Relu(const Napi::CallbackInfo& i) { return Forward<cpu::reluForward>(i, "relu"); }
Napi::Value ReluBackward(const Napi::CallbackInfo& i) { return Backward<cpu::reluBackward>(i, "reluBackward"); }
Napi::Value Tanh(const Napi::CallbackInfo& i) { return Forward<cpu::tanhForward>(i, "tanh"); }
Napi::Value TanhBackward(const Napi::CallbackInfo& i) { return Backward<cpu::tanhBackward>(i, "tanhBackward"); }
Napi::Value Sigmoid(const Napi::CallbackInfo& i) { return Forward<cpu::sigmoidForward>(i, "sigmoid"); }
Napi::Value SigmoidBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::sigmoidBackward>(i, "sigmoidBackward");
}
Napi::Value ScaledTanh(const Napi::CallbackInfo& i) { return Forward<cpu::scaledTanhForward>(i, "scaledTanh"); }
Napi::Value ScaledTanhBackward(const Napi::CallbackInfo& i) {
  return Backward<cpu::scaledTanhBackward>(i, "scaledTanhBackward");
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
