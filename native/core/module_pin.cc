// Keeps this addon mapped for the life of the process. Node unloads (dlclose) an addon when the
// last worker thread that loaded it exits; the CPU streams' executor threads and the thread pool
// outlive any one JS environment (they are process-wide), so unmapping their code would crash
// them. Re-opening ourselves with RTLD_NODELETE makes the loader keep the object mapped.
// Runs as a static initializer so that every addon built from these sources gets it.
#include <dlfcn.h>

namespace ck {

namespace {

struct PinModule {
  PinModule() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&pinAnchor), &info) && info.dli_fname)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // the handle is kept on purpose
  }
  static void pinAnchor() {}
};

PinModule pin;

}  // namespace

}  // namespace ck
