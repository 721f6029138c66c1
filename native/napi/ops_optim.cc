// Bindings of native/cpu/optim and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../cpu/optim.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/optim.h"
#endif

namespace ck {

namespace {

// sgdStepPytorch(stream, w, g, v | null, n, lr, momentum, weightDecay, nesterov)
Napi::Value SgdStepPytorch(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStep");
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef w = a.f32(1, "w", n), g = a.f32(2, "g", n), v = a.optF32(3, "v", n);
  float lr = float(a.f64(5, "lr")), mu = float(a.f64(6, "momentum")), wd = float(a.f64(7, "weightDecay"));
  bool nesterov = a.flag(8);
  dispatch(dev, "sgdStep", [=](auto& kc) {
    sgdStepPytorch(kc, w.f32(), g.f32(), v.storage ? v.f32() : nullptr, n, lr, mu, wd, nesterov);
  });
  return info.Env().Undefined();
}

// sgdStepPaper(stream, w, g, v | null, n, lr, momentum, weightDecay)
Napi::Value SgdStepPaper(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStep");
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef w = a.f32(1, "w", n), g = a.f32(2, "g", n), v = a.optF32(3, "v", n);
  float lr = float(a.f64(5, "lr")), mu = float(a.f64(6, "momentum")), wd = float(a.f64(7, "weightDecay"));
  dispatch(dev, "sgdStep",
           [=](auto& kc) { sgdStepPaper(kc, w.f32(), g.f32(), v.storage ? v.f32() : nullptr, n, lr, mu, wd); });
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "sgdStepPytorch", SgdStepPytorch);
  CK_EXPORT(exports, "sgdStepPaper", SgdStepPaper);
}

}  // namespace ck
