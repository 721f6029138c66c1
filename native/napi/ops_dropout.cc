// Bindings of native/cpu/dropout and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../core/philox.h"
#include "../cpu/dropout.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/dropout.h"
#endif

namespace ck {

namespace {

// dropout(stream, x, y, mask, n, p, scale, seed, offset)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Args a(info, "dropout");
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n), mask = a.f32(3, "mask", n);
  float p = float(a.f64(5, "p")), scale = float(a.f64(6, "scale"));
  uint64_t seed = a.seed(7, "seed"), off = a.seed(8, "offset");
  dispatch(dev, "dropout", [=](auto& kc) { dropoutForward(kc, x.f32(), y.f32(), mask.f32(), n, p, scale, seed, off); });
  return info.Env().Undefined();
}

// dropoutBackward(stream, dy, mask, dx, n)
Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward");
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef dy = a.f32(1, "dy", n), mask = a.f32(2, "mask", n), dx = a.f32(3, "dx", n);
  dispatch(dev, "dropoutBackward", [=](auto& kc) { dropoutBackward(kc, dy.f32(), mask.f32(), dx.f32(), n); });
  return info.Env().Undefined();
}

// debugPhilox4x32(c0, c1, c2, c3, k0, k1) -> [4 words]: the raw Philox4x32-10 block, run
// synchronously, so tests can check native/core/philox.h against published known answers.
Napi::Value DebugPhilox4x32(const Napi::CallbackInfo& info) {
  Args a(info, "debugPhilox4x32");
  uint32_t w[6];
  static const char* names[6] = {"c0", "c1", "c2", "c3", "k0", "k1"};
  for (size_t i = 0; i < 6; i++) {
    int64_t v = a.count(i, names[i]);
    if (v > 0xFFFFFFFFll)
      throw Error(Code::Arg, std::string("debugPhilox4x32: '") + names[i] + "' must fit in 32 bits");
    w[i] = uint32_t(v);
  }
  Philox4 r = philox4x32(w[0], w[1], w[2], w[3], w[4], w[5]);
  Napi::Array out = Napi::Array::New(info.Env(), 4);
  for (uint32_t i = 0; i < 4; i++) out.Set(i, Napi::Number::New(info.Env(), double(r.v[i])));
  return out;
}

}  // namespace

void registerDropout(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "dropout", Dropout);
  CK_EXPORT(exports, "dropoutBackward", DropoutBackward);
  CK_EXPORT(exports, "debugPhilox4x32", DebugPhilox4x32);
}

}  // namespace ck
