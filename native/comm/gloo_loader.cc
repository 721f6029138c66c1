// Loading the Gloo shim and wrapping its C interface (gloo_loader.h).
#include "gloo_loader.h"

#include <dlfcn.h>

#include "../core/errors.h"

namespace ck::comm {

namespace {

struct Api {
  ck_gloo_version_fn version = nullptr;
  ck_gloo_create_fn create = nullptr;
  ck_gloo_allreduce_f32_fn allreduce = nullptr;
  ck_gloo_broadcast_f32_fn broadcast = nullptr;
  ck_gloo_barrier_fn barrier = nullptr;
  ck_gloo_destroy_fn destroy = nullptr;
};

std::mutex gMu;
bool gTried = false;
std::string gFailure;  // why the first load failed; empty after a success
std::string gPath;
Api gApi;  // written once under gMu before gLoaded is published, read-only afterwards
bool gLoaded = false;

template <class Fn>
bool bind(void* lib, const char* name, Fn& out, std::string& why) {
  out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!out) why = std::string("the shim lacks ") + name;
  return out != nullptr;
}

const Api& api() {
  std::lock_guard<std::mutex> lk(gMu);
  if (!gLoaded)
    throw Error(Code::Arg, "gloo: the Gloo shim is not loaded" + (gFailure.empty() ? "" : " (" + gFailure + ")"));
  return gApi;
}

constexpr size_t kErrLen = 1024;

}  // namespace

std::string loadGloo(const std::string& path) {
  std::lock_guard<std::mutex> lk(gMu);
  if (gTried) return gFailure;
  gTried = true;
  gPath = path;
  // RTLD_LOCAL: Gloo's symbols stay private to the shim; the addon sees only the C interface.
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    gFailure = "dlopen(" + path + ") failed: " + (e ? e : "unknown error");
    return gFailure;
  }
  std::string why;
  ck_gloo_abi_fn abi = nullptr;
  Api a;
  if (!bind(lib, "ck_gloo_abi", abi, why) || !bind(lib, "ck_gloo_version", a.version, why) ||
      !bind(lib, "ck_gloo_create", a.create, why) || !bind(lib, "ck_gloo_allreduce_f32", a.allreduce, why) ||
      !bind(lib, "ck_gloo_broadcast_f32", a.broadcast, why) || !bind(lib, "ck_gloo_barrier", a.barrier, why) ||
      !bind(lib, "ck_gloo_destroy", a.destroy, why)) {
    gFailure = path + ": " + why;
    dlclose(lib);
    return gFailure;
  }
  if (abi() != CK_GLOO_ABI) {
    gFailure = path + ": the shim speaks interface version " + std::to_string(abi()) + ", this addon version " +
               std::to_string(CK_GLOO_ABI) + " (rebuild both)";
    dlclose(lib);
    return gFailure;
  }
  gApi = a;
  gLoaded = true;  // the library stays loaded for the process: contexts may outlive any caller
  return "";
}

bool glooLoaded() {
  std::lock_guard<std::mutex> lk(gMu);
  return gLoaded;
}

std::string glooVersion() { return api().version(); }

std::string glooPath() {
  std::lock_guard<std::mutex> lk(gMu);
  return gPath;
}

std::shared_ptr<GlooComm> GlooComm::create(const ck_gloo_create_args& args) {
  const Api& a = api();
  char err[kErrLen] = {0};
  ck_gloo_ctx* ctx = nullptr;
  int status = a.create(&args, &ctx, err, sizeof err);
  if (status != CK_GLOO_OK || !ctx) {
    const Code code = status == CK_GLOO_TIMEOUT ? Code::Timeout : status == CK_GLOO_ARG ? Code::Arg : Code::Closed;
    throw Error(code, "gloo: rank " + std::to_string(args.rank) + " of " + std::to_string(args.size) +
                          " could not join the group: " + err);
  }
  return std::shared_ptr<GlooComm>(new GlooComm(ctx, args.rank, args.size));
}

// gApi is set for good before any GlooComm exists (create() goes through api()).
GlooComm::~GlooComm() { gApi.destroy(ctx_); }

void GlooComm::fail(int status, const char* op, const char* msg) const {
  const Code code = status == CK_GLOO_TIMEOUT ? Code::Timeout
                    : status == CK_GLOO_ARG   ? Code::Arg
                    : status == CK_GLOO_IO    ? Code::Closed
                                              : Code::Internal;
  const char* what = status == CK_GLOO_TIMEOUT ? " (a peer did not answer within the timeout)"
                     : status == CK_GLOO_IO    ? " (a peer's connection failed: did a rank die?)"
                                               : "";
  throw Error(
      code, std::string(op) + " on rank " + std::to_string(rank_) + " of " + std::to_string(size_) + what + ": " + msg);
}

void GlooComm::allReduceSum(float* data, size_t count) {
  char err[kErrLen] = {0};
  if (int s = api().allreduce(ctx_, data, count, err, sizeof err)) fail(s, "allReduce", err);
}

void GlooComm::broadcast(float* data, size_t count, int root) {
  char err[kErrLen] = {0};
  if (int s = api().broadcast(ctx_, data, count, root, err, sizeof err)) fail(s, "broadcast", err);
}

void GlooComm::barrier() {
  char err[kErrLen] = {0};
  if (int s = api().barrier(ctx_, err, sizeof err)) fail(s, "barrier", err);
}

}  // namespace ck::comm
