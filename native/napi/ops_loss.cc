// Bindings of native/cpu/loss and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include "../cpu/loss.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/loss.h"
#endif

namespace ck {

namespace {

// softmax(stream, x, y, N, K)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax");
  Device& dev = a.device(0);
  int64_t N = a.count(3, "N"), K = a.count(4, "K");
  TensorRef x = a.f32(1, "x", a.product({N, K}, "x")), y = a.f32(2, "y", a.product({N, K}, "y"));
  dispatch(dev, "softmax", [=](auto& kc) { softmaxForward(kc, x.f32(), y.f32(), N, K); });
  return info.Env().Undefined();
}

// softmaxBackward(stream, dy, y, dx, N, K)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward");
  Device& dev = a.device(0);
  int64_t N = a.count(4, "N"), K = a.count(5, "K");
  TensorRef dy = a.f32(1, "dy", a.product({N, K}, "dy")), y = a.f32(2, "y", a.product({N, K}, "y")),
            dx = a.f32(3, "dx", a.product({N, K}, "dx"));
  dispatch(dev, "softmaxBackward", [=](auto& kc) { softmaxBackward(kc, dy.f32(), y.f32(), dx.f32(), N, K); });
  return info.Env().Undefined();
}

// softmaxCrossEntropy(stream, logits, labels, probs, loss, correct, correctTopK | null, N, K, k)
Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropy");
  Device& dev = a.device(0);
  int64_t N = a.count(7, "N"), K = a.count(8, "K"), k = a.count(9, "k");
  TensorRef logits = a.f32(1, "logits", a.product({N, K}, "logits")), labels = a.i32(2, "labels", N),
            probs = a.f32(3, "probs", a.product({N, K}, "probs"));
  TensorRef loss = a.f32(4, "loss", 1), correct = a.f32(5, "correct", 1), topk = a.optF32(6, "correctTopK", 1);
  dispatch(dev, "softmaxCrossEntropy", [=](auto& kc) {
    softmaxCrossEntropyForward(kc, logits.f32(), labels.i32(), probs.f32(), loss.f32(), correct.f32(),
                               topk.storage ? topk.f32() : nullptr, N, K, k);
  });
  return info.Env().Undefined();
}

// softmaxCrossEntropyBackward(stream, probs, labels, dlogits, N, K, scale)
Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropyBackward");
  Device& dev = a.device(0);
  int64_t N = a.count(4, "N"), K = a.count(5, "K");
  TensorRef probs = a.f32(1, "probs", a.product({N, K}, "probs")), labels = a.i32(2, "labels", N),
            d = a.f32(3, "dlogits", a.product({N, K}, "dlogits"));
  float scale = float(a.f64(6, "scale"));
  dispatch(dev, "softmaxCrossEntropyBackward",
           [=](auto& kc) { softmaxCrossEntropyBackward(kc, probs.f32(), labels.i32(), d.f32(), N, K, scale); });
  return info.Env().Undefined();
}

}  // namespace

void registerLoss(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "softmax", Softmax);
  CK_EXPORT(exports, "softmaxBackward", SoftmaxBackward);
  CK_EXPORT(exports, "softmaxCrossEntropy", SoftmaxCrossEntropy);
  CK_EXPORT(exports, "softmaxCrossEntropyBackward", SoftmaxCrossEntropyBackward);
}

}  // namespace ck
