// Bindings of native/cpu/dropout (to be filled in).
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

void registerDropout(Napi::Env, Napi::Object) {}

}  // namespace ck
