#include "nccl_loader.h"

#include <dlfcn.h>

#include <mutex>

#include "../core/errors.h"
#include "library_search.h"

namespace ck::cuda {

namespace {

struct LoadResult {
  Nccl lib;
  std::string error;  // empty when loaded
};

template <typename Fn>
void bind(void* h, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(h, name));
  if (!*out) *missing += std::string(missing->empty() ? "" : ", ") + name;
}

LoadResult load() {
  LoadResult r;
  // The CUDA 13 and 12 wheels (nvidia-nccl-cu13, nvidia-nccl-cu12) both keep nvidia/nccl/lib.
  LibrarySpec spec{{"libnccl.so.2"}, {"nccl/lib"}, "CONVKIT_NCCL", {}};
  LibraryHandle h = openLibrary(spec);
  if (!h.handle) {
    r.error =
        "NCCL could not be loaded (libnccl.so.2). Install it (`pip install nvidia-nccl-cu13`, or -cu12 for CUDA "
        "12, or Debian's libnccl2) or set CONVKIT_NCCL to the library file or its folder; " +
        describeSearch(h);
    return r;
  }
  std::string missing;
  Nccl& c = r.lib;
  c.path = h.path;
  bind(h.handle, ncclapi::kGetVersion, &c.getVersion, &missing);
  bind(h.handle, ncclapi::kGetUniqueId, &c.getUniqueId, &missing);
  bind(h.handle, ncclapi::kCommInitAll, &c.commInitAll, &missing);
  bind(h.handle, ncclapi::kCommInitRank, &c.commInitRank, &missing);
  bind(h.handle, ncclapi::kCommDestroy, &c.commDestroy, &missing);
  bind(h.handle, ncclapi::kAllReduce, &c.allReduce, &missing);
  bind(h.handle, ncclapi::kBroadcast, &c.broadcast, &missing);
  bind(h.handle, ncclapi::kGroupStart, &c.groupStart, &missing);
  bind(h.handle, ncclapi::kGroupEnd, &c.groupEnd, &missing);
  bind(h.handle, ncclapi::kGetErrorString, &c.errorString, &missing);
  if (!missing.empty()) {
    r.error = "NCCL at " + h.path + " lacks " + missing;
    return r;
  }
  if (c.getVersion(&c.version) != ncclapi::kSuccess || c.version <= 0)
    r.error = "NCCL at " + h.path + ": ncclGetVersion failed";
  return r;
}

}  // namespace

const Nccl& nccl() {
  // Leaked on purpose: the library stays mapped for the life of the process.
  static LoadResult* r = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { r = new LoadResult(load()); });
  if (!r->error.empty()) throw Error(Code::NoCuda, r->error);
  return r->lib;
}

std::string ncclVersionName(int code) {
  int major, minor, patch;
  if (code >= 10000) {
    major = code / 10000, minor = code / 100 % 100, patch = code % 100;
  } else {
    major = code / 1000, minor = code / 100 % 10, patch = code % 100;
  }
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

void ncclCheck(ncclapi::Result r, const char* what) {
  if (r == ncclapi::kSuccess) return;
  std::string words = "NCCL result " + std::to_string(int(r));
  try {
    words = nccl().errorString(r);
  } catch (const Error&) {}
  throw Error(Code::Cuda, std::string(what) + ": " + words);
}

}  // namespace ck::cuda
