// Bindings of native/cpu/lrn (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerLrn(Napi::Env, Napi::Object) {}

}  // namespace ck
