// Bindings of native/cpu/optim (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerOptim(Napi::Env, Napi::Object) {}

}  // namespace ck
