// Bindings of native/cpu/elementwise and their CUDA twins: argument conversion and
// per-device dispatch (target.h), nothing else.
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
  const Target t = a.target(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  float v = float(a.f64(3, "value"));
  t.run(
      "fill", [=] { cpu::fill(y.f32(), n, v); }, CK_ON_CUDA([=](cuda::Ctx& c) { cuda::fill(c, y.f32(), n, v); }));
  return info.Env().Undefined();
}

Napi::Value FillI32(const Napi::CallbackInfo& info) {
  Args a(info, "fillI32");
  const Target t = a.target(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.i32(1, "y", n);
  int32_t v = int32_t(a.i64(3, "value"));
  t.run(
      "fillI32", [=] { cpu::fillI32(y.i32(), n, v); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::fillI32(c, y.i32(), n, v); }));
  return info.Env().Undefined();
}

// copy(stream, x, y, n)
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy");
  const Target t = a.target(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  t.run(
      "copy", [=] { cpu::copy(x.f32(), y.f32(), n); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::copy(c, x.f32(), y.f32(), n); }));
  return info.Env().Undefined();
}

// axpby(stream, x, y, n, a, b): y = a*x + b*y
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  Args a(info, "axpby");
  const Target t = a.target(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n);
  float al = float(a.f64(4, "a")), be = float(a.f64(5, "b"));
  t.run(
      "axpby", [=] { cpu::axpby(x.f32(), y.f32(), n, al, be); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::axpby(c, x.f32(), y.f32(), n, al, be); }));
  return info.Env().Undefined();
}

// The CUDA twin is a template argument only in the CUDA build (CK_ON_CUDA drops it otherwise).
#ifdef CONVKIT_CUDA
using CudaBinaryFn = void (*)(cuda::Ctx&, const float*, const float*, float*, int64_t);
#else
using CudaBinaryFn = std::nullptr_t;
#endif

template <void (*Kernel)(const float*, const float*, float*, int64_t), CudaBinaryFn CudaKernel>
Napi::Value Binary(const Napi::CallbackInfo& info, const char* op) {
  Args a(info, op);
  const Target t = a.target(0);
  int64_t n = a.count(4, "n");
  TensorRef x = a.f32(1, "a", n), z = a.f32(2, "b", n), y = a.f32(3, "y", n);
  t.run(
      op, [=] { Kernel(x.f32(), z.f32(), y.f32(), n); },
      CK_ON_CUDA([=](cuda::Ctx& c) { CudaKernel(c, x.f32(), z.f32(), y.f32(), n); }));
  return info.Env().Undefined();
}
Napi::Value Add(const Napi::CallbackInfo& info) { return Binary<cpu::add, CK_ON_CUDA(cuda::add)>(info, "add"); }
Napi::Value Mul(const Napi::CallbackInfo& info) { return Binary<cpu::mul, CK_ON_CUDA(cuda::mul)>(info, "mul"); }

// randomNormal(stream, y, n, seed, offset, mean, std)
Napi::Value RandomNormal(const Napi::CallbackInfo& info) {
  Args a(info, "randomNormal");
  const Target t = a.target(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  uint64_t seed = a.seed(3, "seed"), off = a.seed(4, "offset");
  float mean = float(a.f64(5, "mean")), sd = float(a.f64(6, "std"));
  t.run(
      "randomNormal", [=] { cpu::randomNormal(y.f32(), n, seed, off, mean, sd); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::randomNormal(c, y.f32(), n, seed, off, mean, sd); }));
  return info.Env().Undefined();
}

// randomUniform(stream, y, n, seed, offset, lo, hi)
Napi::Value RandomUniform(const Napi::CallbackInfo& info) {
  Args a(info, "randomUniform");
  const Target t = a.target(0);
  int64_t n = a.count(2, "n");
  TensorRef y = a.f32(1, "y", n);
  uint64_t seed = a.seed(3, "seed"), off = a.seed(4, "offset");
  float lo = float(a.f64(5, "lo")), hi = float(a.f64(6, "hi"));
  t.run(
      "randomUniform", [=] { cpu::randomUniform(y.f32(), n, seed, off, lo, hi); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::randomUniform(c, y.f32(), n, seed, off, lo, hi); }));
  return info.Env().Undefined();
}

// sum(stream, x, y, n): y[0] = sum of x
Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum");
  const Target t = a.target(0);
  int64_t n = a.count(3, "n");
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", 1);
  t.run(
      "sum", [=] { cpu::sum(x.f32(), y.f32(), n); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::sum(c, x.f32(), y.f32(), n); }));
  return info.Env().Undefined();
}

// channelAffine(stream, x, a, b, y, N, C, HW)
Napi::Value ChannelAffine(const Napi::CallbackInfo& info) {
  Args a(info, "channelAffine");
  const Target t = a.target(0);
  int64_t N = a.count(5, "N"), C = a.count(6, "C"), HW = a.count(7, "HW");
  TensorRef x = a.f32(1, "x", a.product({N, C, HW}, "x")), al = a.f32(2, "a", C), b = a.f32(3, "b", C),
            y = a.f32(4, "y", a.product({N, C, HW}, "y"));
  t.run(
      "channelAffine", [=] { cpu::channelAffineForward(x.f32(), al.f32(), b.f32(), y.f32(), N, C, HW); },
      CK_ON_CUDA([=](cuda::Ctx& c) { cuda::channelAffineForward(c, x.f32(), al.f32(), b.f32(), y.f32(), N, C, HW); }));
  return info.Env().Undefined();
}

// channelAffineBackward(stream, dy, x, a, dx|null, da, db, N, C, HW)
Napi::Value ChannelAffineBackward(const Napi::CallbackInfo& info) {
  Args a(info, "channelAffineBackward");
  const Target t = a.target(0);
  int64_t N = a.count(7, "N"), C = a.count(8, "C"), HW = a.count(9, "HW");
  TensorRef dy = a.f32(1, "dy", a.product({N, C, HW}, "dy")), x = a.f32(2, "x", a.product({N, C, HW}, "x")),
            al = a.f32(3, "a", C);
  TensorRef dx = a.optF32(4, "dx", a.product({N, C, HW}, "dx")), da = a.f32(5, "da", C), db = a.f32(6, "db", C);
  t.run(
      "channelAffineBackward",
      [=] {
        cpu::channelAffineBackward(dy.f32(), x.f32(), al.f32(), dx.storage ? dx.f32() : nullptr, da.f32(), db.f32(), N,
                                   C, HW);
      },
      CK_ON_CUDA([=](cuda::Ctx& c) {
        cuda::channelAffineBackward(c, dy.f32(), x.f32(), al.f32(), dx.storage ? dx.f32() : nullptr, da.f32(), db.f32(),
                                    N, C, HW);
      }));
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
