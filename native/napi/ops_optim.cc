// Bindings of native/cpu/optim and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include <string>
#include <vector>

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

// sgdFlat(stream, w, g, v | null, n, segments, lr, momentum, weightDecay, paper, nesterov):
// segments is [offset, size, decay (0 | 1)] per range of the flat buffers, sorted and disjoint.
Napi::Value SgdFlat(const Napi::CallbackInfo& info) {
  Args a(info, "sgdFlat");
  Device& dev = a.device(0);
  int64_t n = a.count(4, "n");
  TensorRef w = a.f32(1, "w", n), g = a.f32(2, "g", n), v = a.optF32(3, "v", n);
  std::vector<int64_t> flat = a.ints(5, "segments");
  if (flat.size() % 3 != 0) throw Error(Code::Arg, "sgdFlat: 'segments' must hold [offset, size, decay] triples");
  std::vector<SgdSegment> segs(flat.size() / 3);
  int64_t end = 0;  // where the previous segment ended: segments must not overlap or leave the buffers
  for (size_t s = 0; s < segs.size(); s++) {
    const int64_t off = flat[3 * s], size = flat[3 * s + 1], decay = flat[3 * s + 2];
    if (off < end || size < 0 || size > n - off || (decay != 0 && decay != 1))
      throw Error(Code::Arg, "sgdFlat: segment " + std::to_string(s) + " [" + std::to_string(off) + ", +" +
                                 std::to_string(size) + ") is unsorted, overlapping or outside " + std::to_string(n) +
                                 " elements");
    segs[s] = {off, size, decay == 1};
    end = off + size;
  }
  const SgdRule rule{float(a.f64(6, "lr")), float(a.f64(7, "momentum")), float(a.f64(8, "weightDecay")), a.flag(9),
                     a.flag(10)};
  dispatch(dev, "sgdFlat", [=](auto& kc) { sgdFlat(kc, w.f32(), g.f32(), v.storage ? v.f32() : nullptr, segs, rule); });
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "sgdStepPytorch", SgdStepPytorch);
  CK_EXPORT(exports, "sgdStepPaper", SgdStepPaper);
  CK_EXPORT(exports, "sgdFlat", SgdFlat);
}

}  // namespace ck
