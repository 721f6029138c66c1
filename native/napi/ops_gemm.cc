// Bindings of native/cpu/gemm (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerGemm(Napi::Env, Napi::Object) {}

}  // namespace ck
