// Bindings of stream capture (native/core/stream.h): record a sequence of ops once, replay it as
// one queued op. The replay also copies fresh inputs into the captured input tensors before the
// ops, and the captured outputs into fresh tensors after them, inside that same op.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "errors_napi.h"

namespace ck {

// Called from registerElementwise until addon.cc's list (not this file's owner) names it.

namespace {

const napi_type_tag kPlanTag = {0x636f6e766b697421ULL, 0x706c616eULL};  // "convkit!" "plan"

using Plan = std::shared_ptr<CapturedOps>;

Plan& planOf(const Napi::Value& v, const char* op) {
  if (!v.IsExternal() || !v.As<Napi::External<Plan>>().CheckTypeTag(&kPlanTag))
    throw Error(Code::Arg, std::string(op) + ": 'plan' is not a captured plan");
  Plan* p = v.As<Napi::External<Plan>>().Data();
  if (!*p) throw Error(Code::Disposed, std::string(op) + ": the plan was disposed");
  return *p;
}

// captureBegin(stream): ops queued on the stream from now on are recorded, not run.
Napi::Value CaptureBegin(const Napi::CallbackInfo& info) {
  Args a(info, "captureBegin");
  a.cpuOnly(0, "capture").beginCapture();
  return info.Env().Undefined();
}

// captureEnd(stream) -> plan: the ops recorded since captureBegin.
Napi::Value CaptureEnd(const Napi::CallbackInfo& info) {
  Args a(info, "captureEnd");
  auto* box = new Plan(a.cpuOnly(0, "capture").endCapture());
  auto ext = Napi::External<Plan>::New(info.Env(), box, [](Napi::Env, Plan* p) { delete p; });
  ext.TypeTag(&kPlanTag);
  return ext;
}

// capturedOps(plan) -> number of recorded ops.
Napi::Value CapturedOpCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(planOf(info[0], "capturedOps")->ops.size()));
}

// captureRelease(plan): drops the recorded ops (and the tensors they hold) once queued replays
// are done with them (each replay holds its own reference).
Napi::Value CaptureRelease(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal() && info[0].As<Napi::External<Plan>>().CheckTypeTag(&kPlanTag))
    info[0].As<Napi::External<Plan>>().Data()->reset();
  return info.Env().Undefined();
}

struct Copy {
  TensorRef src, dst;
};

// Pairs of handles [src0, dst0, src1, dst1, ...] of equal byte sizes.
std::vector<Copy> copies(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsArray()) throw Error(Code::Arg, std::string("captureReplay: '") + what + "' must be an array");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (arr.Length() % 2) throw Error(Code::Arg, std::string("captureReplay: '") + what + "' must hold pairs");
  std::vector<Copy> out;
  for (uint32_t k = 0; k < arr.Length(); k += 2) {
    TensorRef s = handleRef(arr.Get(k), "captureReplay", what), d = handleRef(arr.Get(k + 1), "captureReplay", what);
    // The replay memcpy()s on the CPU executor: device memory would crash it.
    if (s.storage->kind != DeviceKind::Cpu || d.storage->kind != DeviceKind::Cpu)
      throw Error(Code::Arg, std::string("captureReplay: '") + what + "' pair " + std::to_string(k / 2) +
                                 " is not in host memory (capture on cuda:N is not supported yet)");
    if (s.bytes != d.bytes)
      throw Error(Code::Shape, std::string("captureReplay: '") + what + "' pair " + std::to_string(k / 2) + " holds " +
                                   std::to_string(s.bytes) + " and " + std::to_string(d.bytes) + " bytes");
    out.push_back(Copy{s, d});
  }
  return out;
}

// captureReplay(stream, plan, inCopies, outCopies): one queued op that copies each
// inCopies pair src -> dst, runs the plan, then copies each outCopies pair src -> dst.
Napi::Value CaptureReplay(const Napi::CallbackInfo& info) {
  Args a(info, "captureReplay");
  CpuStream& s = a.cpuOnly(0, "capture");
  Plan plan = planOf(info[1], "captureReplay");
  std::vector<Copy> in = copies(info, 2, "inputs"), out = copies(info, 3, "outputs");
  s.enqueue("captureReplay", [plan, in, out] {
    for (const Copy& c : in) std::memcpy(c.dst.data(), c.src.data(), c.src.bytes);
    runCaptured(*plan);
    for (const Copy& c : out) std::memcpy(c.dst.data(), c.src.data(), c.src.bytes);
  });
  return info.Env().Undefined();
}

}  // namespace

void registerCapture(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "captureBegin", CaptureBegin);
  CK_EXPORT(exports, "captureEnd", CaptureEnd);
  CK_EXPORT(exports, "capturedOps", CapturedOpCount);
  CK_EXPORT(exports, "captureRelease", CaptureRelease);
  CK_EXPORT(exports, "captureReplay", CaptureReplay);
}

}  // namespace ck
