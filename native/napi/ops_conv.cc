// Bindings of native/cpu/conv (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerConv(Napi::Env, Napi::Object) {}

}  // namespace ck
