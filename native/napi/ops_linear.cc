// Bindings of native/cpu/linear and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../cpu/linear.h"
#include "../cpu/linear_bf16.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/linear.h"
#endif

namespace ck {

namespace {

// linear(stream, x, w, b | null, y, N, in, out)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  Args a(info, "linear");
  Device& dev = a.device(0);
  int64_t N = a.count(5, "N"), in = a.count(6, "in"), out = a.count(7, "out");
  TensorRef x = a.f32(1, "x", a.product({N, in}, "x")), w = a.f32(2, "w", a.product({out, in}, "w")),
            b = a.optF32(3, "b", out);
  TensorRef y = a.f32(4, "y", a.product({N, out}, "y"));
  dispatch(dev, "linear",
           [=](auto& kc) { linearForward(kc, x.f32(), w.f32(), b.storage ? b.f32() : nullptr, y.f32(), N, in, out); });
  return info.Env().Undefined();
}

// linearBackwardData(stream, dy, w, dx, N, in, out)
Napi::Value LinearBackwardData(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardData");
  Device& dev = a.device(0);
  int64_t N = a.count(4, "N"), in = a.count(5, "in"), out = a.count(6, "out");
  TensorRef dy = a.f32(1, "dy", a.product({N, out}, "dy")), w = a.f32(2, "w", a.product({out, in}, "w")),
            dx = a.f32(3, "dx", a.product({N, in}, "dx"));
  dispatch(dev, "linearBackwardData",
           [=](auto& kc) { linearBackwardData(kc, dy.f32(), w.f32(), dx.f32(), N, in, out); });
  return info.Env().Undefined();
}

// linearBackwardWeight(stream, dy, x, dw, N, in, out, beta)
Napi::Value LinearBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardWeight");
  Device& dev = a.device(0);
  int64_t N = a.count(4, "N"), in = a.count(5, "in"), out = a.count(6, "out");
  TensorRef dy = a.f32(1, "dy", a.product({N, out}, "dy")), x = a.f32(2, "x", a.product({N, in}, "x")),
            dw = a.f32(3, "dw", a.product({out, in}, "dw"));
  float beta = float(a.f64(7, "beta"));
  dispatch(dev, "linearBackwardWeight",
           [=](auto& kc) { linearBackwardWeight(kc, dy.f32(), x.f32(), dw.f32(), N, in, out, beta); });
  return info.Env().Undefined();
}

// linearBackwardBias(stream, dy, db, N, out, beta)
Napi::Value LinearBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardBias");
  Device& dev = a.device(0);
  int64_t N = a.count(3, "N"), out = a.count(4, "out");
  TensorRef dy = a.f32(1, "dy", a.product({N, out}, "dy")), db = a.f32(2, "db", out);
  float beta = float(a.f64(5, "beta"));
  dispatch(dev, "linearBackwardBias", [=](auto& kc) { linearBackwardBias(kc, dy.f32(), db.f32(), N, out, beta); });
  return info.Env().Undefined();
}

// The bf16-weight forward exists on CPU streams only (a GPU runs fp32 or TF32 through cuBLAS),
// so these two run their CPU kernel directly instead of dispatching to a twin.

// packBf16(stream, w, packed, out, in): packed [out, ceil(in / 2)] int32 = w [out, in] as bf16.
Napi::Value PackBf16(const Napi::CallbackInfo& info) {
  Args a(info, "packBf16");
  a.cpuOnly(0, "bf16 weights");
  Device& dev = a.device(0);
  int64_t out = a.count(3, "out"), in = a.count(4, "in");
  TensorRef w = a.f32(1, "w", a.product({out, in}, "w")),
            p = a.i32(2, "packed", a.product({out, cpu::bf16InPairs(in)}, "packed"));
  dev.run("packBf16", [=] { cpu::packBf16(w.f32(), p.i32(), out, in); });
  return info.Env().Undefined();
}

// linearBf16(stream, x, packed, b | null, y, N, in, out)
Napi::Value LinearBf16(const Napi::CallbackInfo& info) {
  Args a(info, "linearBf16");
  a.cpuOnly(0, "bf16 weights");
  Device& dev = a.device(0);
  int64_t N = a.count(5, "N"), in = a.count(6, "in"), out = a.count(7, "out");
  TensorRef x = a.f32(1, "x", a.product({N, in}, "x")),
            p = a.i32(2, "packed", a.product({out, cpu::bf16InPairs(in)}, "packed")), b = a.optF32(3, "b", out);
  TensorRef y = a.f32(4, "y", a.product({N, out}, "y"));
  dev.run("linearBf16",
          [=] { cpu::linearBf16Forward(x.f32(), p.i32(), b.storage ? b.f32() : nullptr, y.f32(), N, in, out); });
  return info.Env().Undefined();
}

}  // namespace

void registerLinear(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "linear", Linear);
  CK_EXPORT(exports, "linearBackwardData", LinearBackwardData);
  CK_EXPORT(exports, "linearBackwardWeight", LinearBackwardWeight);
  CK_EXPORT(exports, "linearBackwardBias", LinearBackwardBias);
  CK_EXPORT(exports, "packBf16", PackBf16);
  CK_EXPORT(exports, "linearBf16", LinearBf16);
}

}  // namespace ck
