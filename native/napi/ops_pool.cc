// Bindings of native/cpu/pool (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerPool(Napi::Env, Napi::Object) {}

}  // namespace ck
