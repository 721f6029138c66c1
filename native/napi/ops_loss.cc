// Bindings of native/cpu/loss (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerLoss(Napi::Env, Napi::Object) {}

}  // namespace ck
