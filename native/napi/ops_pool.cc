// Bindings of native/cpu/pool and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
// geom is [N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW, ceilMode], computed by lib/ops/pool.ts.
#include "../cpu/lrn_pool.h"
#include "../cpu/pool.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/pool.h"
#endif

namespace ck {

namespace {

Pool2dGeom readGeom(Args& a, size_t i) {
  std::vector<int64_t> v = a.ints(i, "geom");
  CK_CHECK(v.size() == 13, Code::Arg, std::string(a.op()) + ": 'geom' must hold 13 integers");
  for (size_t k = 0; k < 12; k++)
    CK_CHECK(v[k] >= 0 && v[k] < (int64_t(1) << 31), Code::Arg,
             std::string(a.op()) + ": 'geom' entries must be in [0, 2^31)");
  // A zero kernel or stride would leave windows empty and argmax pointing nowhere.
  CK_CHECK(v[4] >= 1 && v[5] >= 1 && v[6] >= 1 && v[7] >= 1, Code::Arg,
           std::string(a.op()) + ": kernel and stride must be >= 1");
  // argmax and the SIMD gathers index a plane with int32; padded extents stay below 2^31 too
  // (each term is a sum or product of two values < 2^31: exact in int64).
  constexpr int64_t k31 = int64_t(1) << 31;
  CK_CHECK(v[2] * v[3] < k31 && v[10] * v[11] < k31 && v[2] + 2 * v[8] < k31 && v[3] + 2 * v[9] < k31, Code::Shape,
           std::string(a.op()) + ": a " + std::to_string(v[2]) + "x" + std::to_string(v[3]) + " plane (output " +
               std::to_string(v[10]) + "x" + std::to_string(v[11]) + ", padding " + std::to_string(v[8]) + "x" +
               std::to_string(v[9]) + ") is beyond the int32 index range");
  // Whole-tensor element counts must not overflow (tensor()'s byte checks rely on them).
  a.product({v[0], v[1], v[2], v[3]}, "the input");
  a.product({v[0], v[1], v[10], v[11]}, "the output");
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12] != 0};
}

int64_t inElems(const Pool2dGeom& g) { return g.N * g.C * g.H * g.W; }
int64_t outElems(const Pool2dGeom& g) { return g.N * g.C * g.OH * g.OW; }

// maxPool2d(stream, x, y, argmax | null, geom): null argmax computes the values only.
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  Args a(info, "maxPool2d");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 4);
  TensorRef x = a.f32(1, "x", inElems(g)), y = a.f32(2, "y", outElems(g));
  const bool withArgmax = !info[3].IsNull();
  TensorRef am = withArgmax ? a.i32(3, "argmax", outElems(g)) : TensorRef{};
  dispatch(dev, "maxPool2d",
           [=](auto& kc) { maxPool2dForward(kc, x.f32(), g, y.f32(), withArgmax ? am.i32() : nullptr); });
  return info.Env().Undefined();
}

// maxPool2dBackward(stream, dy, argmax, dx, geom)
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxPool2dBackward");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 4);
  TensorRef dy = a.f32(1, "dy", outElems(g)), am = a.i32(2, "argmax", outElems(g)), dx = a.f32(3, "dx", inElems(g));
  dispatch(dev, "maxPool2dBackward", [=](auto& kc) { maxPool2dBackward(kc, dy.f32(), am.i32(), g, dx.f32()); });
  return info.Env().Undefined();
}

// avgPool2d(stream, x, y, geom, countIncludePad)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  Args a(info, "avgPool2d");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 3);
  TensorRef x = a.f32(1, "x", inElems(g)), y = a.f32(2, "y", outElems(g));
  bool inc = a.flag(4);
  dispatch(dev, "avgPool2d", [=](auto& kc) { avgPool2dForward(kc, x.f32(), g, inc, y.f32()); });
  return info.Env().Undefined();
}

// avgPool2dBackward(stream, dy, dx, geom, countIncludePad)
Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "avgPool2dBackward");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 3);
  TensorRef dy = a.f32(1, "dy", outElems(g)), dx = a.f32(2, "dx", inElems(g));
  bool inc = a.flag(4);
  dispatch(dev, "avgPool2dBackward", [=](auto& kc) { avgPool2dBackward(kc, dy.f32(), g, inc, dx.f32()); });
  return info.Env().Undefined();
}

// sumPool2d(stream, x, y, geom)
Napi::Value SumPool2d(const Napi::CallbackInfo& info) {
  Args a(info, "sumPool2d");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 3);
  TensorRef x = a.f32(1, "x", inElems(g)), y = a.f32(2, "y", outElems(g));
  dispatch(dev, "sumPool2d", [=](auto& kc) { sumPool2dForward(kc, x.f32(), g, y.f32()); });
  return info.Env().Undefined();
}

// sumPool2dBackward(stream, dy, dx, geom)
Napi::Value SumPool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "sumPool2dBackward");
  Device& dev = a.device(0);
  Pool2dGeom g = readGeom(a, 3);
  TensorRef dy = a.f32(1, "dy", outElems(g)), dx = a.f32(2, "dx", inElems(g));
  dispatch(dev, "sumPool2dBackward", [=](auto& kc) { sumPool2dBackward(kc, dy.f32(), g, dx.f32()); });
  return info.Env().Undefined();
}

// The LRN options after the geometry: size, alphaEff, beta, k from argument `at` on.
LrnParams readLrn(Args& a, size_t at, const char* op) {
  const int64_t size = a.count(at, "size");
  CK_CHECK(size >= 1, Code::Arg, std::string(op) + ": 'size' must be >= 1");
  return LrnParams{size, float(a.f64(at + 1, "alphaEff")), float(a.f64(at + 2, "beta")), float(a.f64(at + 3, "k"))};
}

// lrnMaxPool2d(stream, x, y, geom, size, alphaEff, beta, k[, argmax]): y = maxPool2d(lrn(x)), with
// the pool's argmax when training (none for inference). The fusion exists on CPU streams only
// (lib/ops/lrn-pool.ts runs the two ops elsewhere), so it runs the CPU kernel directly, as
// conv2dMaxPool2x2 does.
Napi::Value LrnMaxPool2d(const Napi::CallbackInfo& info) {
  Args a(info, "lrnMaxPool2d");
  a.cpuOnly(0, "the LRN fused with a max pool");
  Device& dev = a.device(0);
  const Pool2dGeom g = readGeom(a, 3);
  const LrnParams p = readLrn(a, 4, "lrnMaxPool2d");
  TensorRef x = a.f32(1, "x", inElems(g)), y = a.f32(2, "y", outElems(g)), am = a.optI32(8, "argmax", outElems(g));
  dev.run("lrnMaxPool2d", [=] { cpu::lrnMaxPool2dForward(x.f32(), p, g, y.f32(), am.storage ? am.i32() : nullptr); });
  return info.Env().Undefined();
}

// maxPool2dLrnBackward(stream, dy, argmax, x, dx, geom, size, alphaEff, beta, k, reluInput): the
// backward of lrnMaxPool2d with its argmax, x being the LRN's input; CPU streams only, as above.
Napi::Value MaxPool2dLrnBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxPool2dLrnBackward");
  a.cpuOnly(0, "the max pool's backward fused with the LRN's");
  Device& dev = a.device(0);
  const Pool2dGeom g = readGeom(a, 5);
  LrnParams p = readLrn(a, 6, "maxPool2dLrnBackward");
  p.reluInput = a.flag(10);
  TensorRef dy = a.f32(1, "dy", outElems(g)), am = a.i32(2, "argmax", outElems(g)), x = a.f32(3, "x", inElems(g)),
            dx = a.f32(4, "dx", inElems(g));
  dev.run("maxPool2dLrnBackward", [=] { cpu::maxPool2dLrnBackward(dy.f32(), am.i32(), x.f32(), p, g, dx.f32()); });
  return info.Env().Undefined();
}

}  // namespace

void registerPool(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "maxPool2d", MaxPool2d);
  CK_EXPORT(exports, "maxPool2dBackward", MaxPool2dBackward);
  CK_EXPORT(exports, "lrnMaxPool2d", LrnMaxPool2d);
  CK_EXPORT(exports, "maxPool2dLrnBackward", MaxPool2dLrnBackward);
  CK_EXPORT(exports, "avgPool2d", AvgPool2d);
  CK_EXPORT(exports, "avgPool2dBackward", AvgPool2dBackward);
  CK_EXPORT(exports, "sumPool2d", SumPool2d);
  CK_EXPORT(exports, "sumPool2dBackward", SumPool2dBackward);
}

}  // namespace ck
