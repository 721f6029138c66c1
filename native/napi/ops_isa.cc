// Bindings of native/cpu/isa.h: the one instruction-set switch of the CPU kernels, and what each
// family runs under it. lib/isa.ts checks that the CPU streams are idle before switching.
#include <string>
#include <vector>

#include "../cpu/conv_direct.h"
#include "../cpu/gemm.h"
#include "../cpu/im2col.h"
#include "../cpu/im2col_panels.h"
#include "../cpu/isa.h"
#include "../cpu/linear.h"
#include "../cpu/linear_bf16.h"
#include "../cpu/lrn.h"
#include "../cpu/pool.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

// isa(name?): the active level ("avx512", "avx2" or "portable"); with a name ("auto" included)
// switches every family first. Ops that start afterwards use the new level.
Napi::Value IsaBinding(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Error(Code::Arg, "isa: 'name' must be a string");
    const std::string why = cpu::setIsa(info[0].As<Napi::String>().Utf8Value());
    if (!why.empty()) throw Error(Code::Arg, "isa: " + why);
  }
  return Napi::String::New(info.Env(), cpu::isaName(cpu::activeIsa()));
}

// cpuIsa(): the best level this CPU runs.
Napi::Value CpuIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cpu::isaName(cpu::cpuIsa()));
}

// isaFamilies(): the path each kernel family takes under the active level.
Napi::Value IsaFamilies(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gemm", cpu::sgemmKernelName());
  o.Set("convDirect", cpu::convFastPathName());
  o.Set("im2col", cpu::im2colPathName());
  o.Set("im2colPanels", cpu::im2colPanelsPathName());
  o.Set("lrn", cpu::lrnPathName());
  o.Set("maxPool", cpu::maxPoolPathName());
  o.Set("linearBf16", cpu::linearBf16PathName());
  o.Set("linearStream", cpu::linearStreamPathName());
  return o;
}

// linearPathBounds(): the batch sizes after which the linear forward changes path (linear.h).
Napi::Value LinearPathBounds(const Napi::CallbackInfo& info) {
  const std::vector<int64_t> bounds = cpu::linearForwardPathBounds();
  Napi::Array a = Napi::Array::New(info.Env(), bounds.size());
  for (size_t i = 0; i < bounds.size(); i++) a.Set(uint32_t(i), Napi::Number::New(info.Env(), double(bounds[i])));
  return a;
}

}  // namespace

void registerIsa(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "isa", IsaBinding);
  CK_EXPORT(exports, "cpuIsa", CpuIsa);
  CK_EXPORT(exports, "isaFamilies", IsaFamilies);
  CK_EXPORT(exports, "linearPathBounds", LinearPathBounds);
}

}  // namespace ck
