// Bindings of native/cpu/elementwise and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../cpu/channel_affine.h"
#include "../cpu/elementwise.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/channel_affine.h"
#include "../cuda/elementwise.h"
#endif

namespace ck {

namespace {

// fill(stream, y, n, value)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill");
  Device& dev = a.device(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  float v = float(a.f64(3, "value"));
  dispatch(dev, "fill", [=](auto& kc) { fill(kc, y.f32(), n, v); });
  return info.Env().Undefined();
}

Napi::Value FillI32(const Napi::CallbackInfo& info) {
  Args a(info, "fillI32");
  Device& dev = a.device(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.i32(1, "y", n);
  int32_t v = int32_t(a.i64(3, "value"));
  dispatch(dev, "fillI32", [=](auto& kc) { fillI32(kc, y.i32(), n, v); });
  return info.Env().Undefined();
}

// copy(stream, x, y, n)
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy");
  Device& dev = a.device(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  dispatch(dev, "copy", [=](auto& kc) { copy(kc, x.f32(), y.f32(), n); });
  return info.Env().Undefined();
}

// axpby(stream, x, y, n, a, b): y = a*x + b*y
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  Args a(info, "axpby");
  Device& dev = a.device(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  float al = float(a.f64(4, "a")), be = float(a.f64(5, "b"));
  dispatch(dev, "axpby", [=](auto& kc) { axpby(kc, x.f32(), y.f32(), n, al, be); });
  return info.Env().Undefined();
}

// add/mul(stream, a, b, y, n). `kernel` is CK_KERNEL(name).
template <class Kernel>
Napi::Value Binary(const Napi::CallbackInfo& info, const char* op, Kernel kernel) {
  Args a(info, op);
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef x = a.f32(1, "a", n), z = a.f32(2, "b", n), y = a.f32(3, "y", n);
  dispatch(dev, op, [=](auto& kc) { kernel(kc, x.f32(), z.f32(), y.f32(), n); });
  return info.Env().Undefined();
}
Napi::Value Add(const Napi::CallbackInfo& info) { return Binary(info, "add", CK_KERNEL(add)); }
Napi::Value Mul(const Napi::CallbackInfo& info) { return Binary(info, "mul", CK_KERNEL(mul)); }

// randomNormal(stream, y, n, seed, offset, mean, std)
Napi::Value RandomNormal(const Napi::CallbackInfo& info) {
  Args a(info, "randomNormal");
  Device& dev = a.device(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  uint64_t seed = a.seed(3, "seed"), off = a.seed(4, "offset");
  float mean = float(a.f64(5, "mean")), sd = float(a.f64(6, "std"));
  dispatch(dev, "randomNormal", [=](auto& kc) { randomNormal(kc, y.f32(), n, seed, off, mean, sd); });
  return info.Env().Undefined();
}

// randomUniform(stream, y, n, seed, offset, lo, hi)
Napi::Value RandomUniform(const Napi::CallbackInfo& info) {
  Args a(info, "randomUniform");
  Device& dev = a.device(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  uint64_t seed = a.seed(3, "seed"), off = a.seed(4, "offset");
  float lo = float(a.f64(5, "lo")), hi = float(a.f64(6, "hi"));
  dispatch(dev, "randomUniform", [=](auto& kc) { randomUniform(kc, y.f32(), n, seed, off, lo, hi); });
  return info.Env().Undefined();
}

// sum(stream, x, y, n): y[0] = sum of x
Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum");
  Device& dev = a.device(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", 1);
  dispatch(dev, "sum", [=](auto& kc) { sum(kc, x.f32(), y.f32(), n); });
  return info.Env().Undefined();
}

// channelAffine(stream, x, a, b, y, N, C, HW)
Napi::Value ChannelAffine(const Napi::CallbackInfo& info) {
  Args a(info, "channelAffine");
  Device& dev = a.device(0);
  int64_t N = a.count(5, "N"), C = a.count(6, "C"), HW = a.count(7, "HW");
  TensorRef x = a.f32(1, "x", a.product({N, C, HW}, "x")), al = a.f32(2, "a", C), b = a.f32(3, "b", C),
            y = a.f32(4, "y", a.product({N, C, HW}, "y"));
  dispatch(dev, "channelAffine",
           [=](auto& kc) { channelAffineForward(kc, x.f32(), al.f32(), b.f32(), y.f32(), N, C, HW); });
  return info.Env().Undefined();
}

// channelAffineBackward(stream, dy, x, a, dx|null, da, db, N, C, HW)
Napi::Value ChannelAffineBackward(const Napi::CallbackInfo& info) {
  Args a(info, "channelAffineBackward");
  Device& dev = a.device(0);
  int64_t N = a.count(7, "N"), C = a.count(8, "C"), HW = a.count(9, "HW");
  TensorRef dy = a.f32(1, "dy", a.product({N, C, HW}, "dy")), x = a.f32(2, "x", a.product({N, C, HW}, "x")),
            al = a.f32(3, "a", C);
  TensorRef dx = a.optF32(4, "dx", a.product({N, C, HW}, "dx")), da = a.f32(5, "da", C), db = a.f32(6, "db", C);
  dispatch(dev, "channelAffineBackward", [=](auto& kc) {
    channelAffineBackward(kc, dy.f32(), x.f32(), al.f32(), dx.storage ? dx.f32() : nullptr, da.f32(), db.f32(), N, C,
                          HW);
  });
  return info.Env().Undefined();
}

// debugSleep(stream, ms): an op that only takes time. Tests use it to prove that ops return
// before they run and that waits really wait.
Napi::Value DebugSleep(const Napi::CallbackInfo& info) {
  Args a(info, "debugSleep");
  CpuStream& s = a.cpuOnly(0, "debugSleep");
  int64_t ms = a.count(1, "ms");
  s.enqueue("debugSleep", [=] { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); });
  return info.Env().Undefined();
}

// debugFail(stream, message): an op that fails when it runs, for error-surfacing tests.
Napi::Value DebugFail(const Napi::CallbackInfo& info) {
  Args a(info, "debugFail");
  CpuStream& s = a.cpuOnly(0, "debugFail");
  std::string msg = info[1].ToString().Utf8Value();
  s.enqueue("debugFail", [=] { throw Error(Code::Internal, msg); });
  return info.Env().Undefined();
}

}  // namespace

void registerElementwise(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "fill", Fill);
  CK_EXPORT(exports, "fillI32", FillI32);
  CK_EXPORT(exports, "copy", Copy);
  CK_EXPORT(exports, "axpby", Axpby);
  CK_EXPORT(exports, "add", Add);
  CK_EXPORT(exports, "mul", Mul);
  CK_EXPORT(exports, "randomNormal", RandomNormal);
  CK_EXPORT(exports, "randomUniform", RandomUniform);
  CK_EXPORT(exports, "sum", Sum);
  CK_EXPORT(exports, "channelAffine", ChannelAffine);
  CK_EXPORT(exports, "channelAffineBackward", ChannelAffineBackward);
  CK_EXPORT(exports, "debugSleep", DebugSleep);
  CK_EXPORT(exports, "debugFail", DebugFail);
}

}  // namespace ck
