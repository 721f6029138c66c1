#include "handle.h"

#include "errors_napi.h"

namespace ck {

namespace {
const napi_type_tag kHandleTag = {0x636f6e766b697421ULL, 0x74656e736f72ULL};  // "convkit!" "tensor"
}

Napi::Value makeHandle(Napi::Env env, TensorRef ref) {
  auto* box = new HandleBox{std::move(ref)};
  auto ext = Napi::External<HandleBox>::New(env, box, [](Napi::Env, HandleBox* b) { delete b; });
  ext.TypeTag(&kHandleTag);
  return ext;
}

bool isHandle(const Napi::Value& v) {
  if (!v.IsExternal()) return false;
  return v.As<Napi::External<HandleBox>>().CheckTypeTag(&kHandleTag);
}

TensorRef& handleRef(const Napi::Value& v, const char* op, const char* what) {
  if (!isHandle(v)) throw Error(Code::Arg, std::string(op) + ": argument '" + what + "' is not a tensor handle");
  HandleBox* box = v.As<Napi::External<HandleBox>>().Data();
  if (!box->ref.storage)
    throw Error(Code::Disposed, std::string(op) + ": argument '" + what + "' was disposed");
  return box->ref;
}

void releaseHandle(const Napi::Value& v) {
  if (!isHandle(v)) return;
  HandleBox* box = v.As<Napi::External<HandleBox>>().Data();
  box->ref.storage.reset();
}

}  // namespace ck
