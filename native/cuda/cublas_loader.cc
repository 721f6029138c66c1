#include "cublas_loader.h"

#include <dlfcn.h>

#include <mutex>

#include "../core/errors.h"
#include "library_search.h"

namespace ck::cuda {

namespace {

struct LoadResult {
  Cublas lib;
  std::string error;  // empty when loaded
};

template <typename Fn>
bool bind(void* h, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(h, name));
  if (!*out) *missing += std::string(missing->empty() ? "" : ", ") + name;
  return *out != nullptr;
}

LoadResult load() {
  LoadResult r;
  LibrarySpec spec{{"libcublas.so.13", "libcublas.so.12"},
                   {"cu13/lib", "cublas/lib"},
                   "CONVKIT_CUBLAS",
                   {"libcublasLt.so.13", "libcublasLt.so.12"}};
  LibraryHandle h = openLibrary(spec);
  if (!h.handle) {
    r.error =
        "cuBLAS could not be loaded (libcublas.so.13 or .12). Install it (`pip install nvidia-cublas` "
        "for CUDA 13, nvidia-cublas-cu12 for 12) or set CONVKIT_CUBLAS to the library file or its folder; " +
        describeSearch(h);
    return r;
  }
  std::string missing;
  Cublas& c = r.lib;
  c.path = h.path;
  bind(h.handle, blas::kCreate, &c.create, &missing);
  bind(h.handle, blas::kDestroy, &c.destroy, &missing);
  bind(h.handle, blas::kSetStream, &c.setStream, &missing);
  bind(h.handle, blas::kSetMathMode, &c.setMathMode, &missing);
  bind(h.handle, blas::kGetVersion, &c.getVersion, &missing);
  bind(h.handle, blas::kSgemm, &c.sgemm, &missing);
  bind(h.handle, blas::kSgemmStridedBatched, &c.sgemmStridedBatched, &missing);
  c.statusString = reinterpret_cast<blas::GetStatusStringFn>(dlsym(h.handle, blas::kGetStatusString));
  if (!missing.empty()) r.error = "cuBLAS at " + h.path + " lacks " + missing;
  return r;
}

}  // namespace

const Cublas& cublas() {
  // Leaked on purpose: the library stays mapped for the life of the process.
  static LoadResult* r = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { r = new LoadResult(load()); });
  if (!r->error.empty()) throw Error(Code::NoCuda, r->error);
  return r->lib;
}

std::string cublasStatusName(blas::Status s) {
  try {
    const Cublas& c = cublas();
    if (c.statusString) return c.statusString(s);
  } catch (const Error&) {}
  return "cuBLAS status " + std::to_string(int(s));
}

}  // namespace ck::cuda
