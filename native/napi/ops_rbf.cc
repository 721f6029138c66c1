// Bindings of native/cpu/rbf (LeNet-5's output layer and criterion).
#include "../cpu/rbf.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/rbf.h"
#endif

namespace ck {

namespace {

// rbfForward(stream, x, w, y, N, F, K)
Napi::Value RbfForward(const Napi::CallbackInfo& info) {
  Args a(info, "rbfForward");
  Device& dev = a.device(0);
  int64_t N = a.count(4, "N"), F = a.count(5, "F"), K = a.count(6, "K");
  TensorRef x = a.f32(1, "x", a.product({N, F}, "x")), w = a.f32(2, "w", a.product({K, F}, "w")),
            y = a.f32(3, "y", a.product({N, K}, "y"));
  dispatch(dev, "rbfForward", [=](auto& kc) { rbfForward(kc, x.f32(), w.f32(), y.f32(), N, F, K); });
  return info.Env().Undefined();
}

// rbfBackward(stream, dy, x, w, dx, N, F, K)
Napi::Value RbfBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rbfBackward");
  Device& dev = a.device(0);
  int64_t N = a.count(5, "N"), F = a.count(6, "F"), K = a.count(7, "K");
  TensorRef dy = a.f32(1, "dy", a.product({N, K}, "dy")), x = a.f32(2, "x", a.product({N, F}, "x")),
            w = a.f32(3, "w", a.product({K, F}, "w")), dx = a.f32(4, "dx", a.product({N, F}, "dx"));
  dispatch(dev, "rbfBackward", [=](auto& kc) { rbfBackward(kc, dy.f32(), x.f32(), w.f32(), dx.f32(), N, F, K); });
  return info.Env().Undefined();
}

// rbfCriterion(stream, y, labels, loss, correct, dy, N, K, J)
Napi::Value RbfCriterion(const Napi::CallbackInfo& info) {
  Args a(info, "rbfCriterion");
  Device& dev = a.device(0);
  int64_t N = a.count(6, "N"), K = a.count(7, "K");
  float J = float(a.f64(8, "J"));
  TensorRef y = a.f32(1, "y", a.product({N, K}, "y")), labels = a.i32(2, "labels", N), loss = a.f32(3, "loss", 1),
            correct = a.f32(4, "correct", 1), dy = a.f32(5, "dy", a.product({N, K}, "dy"));
  dispatch(dev, "rbfCriterion",
           [=](auto& kc) { rbfCriterion(kc, y.f32(), labels.i32(), loss.f32(), correct.f32(), dy.f32(), N, K, J); });
  return info.Env().Undefined();
}

}  // namespace

void registerRbf(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "rbfForward", RbfForward);
  CK_EXPORT(exports, "rbfBackward", RbfBackward);
  CK_EXPORT(exports, "rbfCriterion", RbfCriterion);
}

}  // namespace ck
