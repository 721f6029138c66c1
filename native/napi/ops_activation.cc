// Bindings of native/cpu/activation (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerActivation(Napi::Env, Napi::Object) {}

}  // namespace ck
