// Bindings of native/cpu/lrn and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
// geom is [N, C, H, W]; alphaEff is the coefficient already chosen by lib/ops/lrn.ts.
#include "../cpu/lrn.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/lrn.h"
#endif

namespace ck {

namespace {

LrnGeom readGeom(Args& a, size_t i) {
  std::vector<int64_t> v = a.ints(i, "geom");
  CK_CHECK(v.size() == 4, Code::Arg, std::string(a.op()) + ": 'geom' must hold 4 integers");
  for (int64_t d : v)
    CK_CHECK(d >= 0 && d < (int64_t(1) << 31), Code::Arg,
             std::string(a.op()) + ": 'geom' entries must be in [0, 2^31)");
  // elems() must not overflow: a wrapped product could pass the tensors' size checks.
  a.product({v[0], v[1], v[2], v[3]}, "the input");
  return {v[0], v[1], v[2], v[3]};
}

LrnParams readParams(Args& a, size_t i) {
  int64_t size = a.count(i, "size");
  CK_CHECK(size >= 1, Code::Arg, std::string(a.op()) + ": 'size' must be >= 1");
  return {size, float(a.f64(i + 1, "alphaEff")), float(a.f64(i + 2, "beta")), float(a.f64(i + 3, "k"))};
}

int64_t elems(const LrnGeom& g) { return g.N * g.C * g.H * g.W; }

// lrn(stream, x, y, scale, geom, size, alphaEff, beta, k); scale may be null (not kept)
Napi::Value Lrn(const Napi::CallbackInfo& info) {
  Args a(info, "lrn");
  Device& dev = a.device(0);
  LrnGeom g = readGeom(a, 4);
  LrnParams p = readParams(a, 5);
  int64_t n = elems(g);
  TensorRef x = a.f32(1, "x", n), y = a.f32(2, "y", n), sc = a.optF32(3, "scale", n);
  dispatch(dev, "lrn", [=](auto& kc) { lrnForward(kc, x.f32(), g, p, y.f32(), sc.storage ? sc.f32() : nullptr); });
  return info.Env().Undefined();
}

// lrnBackward(stream, dy, x, y, scale, dx, geom, size, alphaEff, beta, k, reluInput); a null
// scale is recomputed from x, and y with it (y may then be null)
Napi::Value LrnBackward(const Napi::CallbackInfo& info) {
  Args a(info, "lrnBackward");
  Device& dev = a.device(0);
  LrnGeom g = readGeom(a, 6);
  LrnParams p = readParams(a, 7);
  p.reluInput = a.flag(11);
  int64_t n = elems(g);
  TensorRef dy = a.f32(1, "dy", n), x = a.f32(2, "x", n), y = a.optF32(3, "y", n), sc = a.optF32(4, "scale", n),
            dx = a.f32(5, "dx", n);
  CK_CHECK(y.storage || !sc.storage, Code::Arg, "lrnBackward: 'y' is required with a kept 'scale'");
  dispatch(dev, "lrnBackward", [=](auto& kc) {
    lrnBackward(kc, dy.f32(), x.f32(), y.storage ? y.f32() : nullptr, sc.storage ? sc.f32() : nullptr, g, p, dx.f32());
  });
  return info.Env().Undefined();
}

}  // namespace

void registerLrn(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "lrn", Lrn);
  CK_EXPORT(exports, "lrnBackward", LrnBackward);
}

}  // namespace ck
