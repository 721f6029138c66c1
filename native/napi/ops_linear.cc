// Bindings of native/cpu/linear (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerLinear(Napi::Env, Napi::Object) {}

}  // namespace ck
