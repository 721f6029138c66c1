#include "library_search.h"

#include <dlfcn.h>
#include <glob.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>

namespace ck::cuda {

namespace {

bool isDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> globDirs(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++)
      if (isDir(g.gl_pathv[i])) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

void addGlob(std::vector<std::string>& out, std::set<std::string>& seen, const std::string& pattern) {
  for (auto& d : globDirs(pattern))
    if (seen.insert(d).second) out.push_back(d);
}

// dlopen's message, or a plain one when it has none.
std::string lastDlError() {
  const char* e = dlerror();
  return e ? e : "not found";
}

}  // namespace

std::vector<std::string> pythonSitePackages() {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (const char* v = std::getenv(var)) addGlob(out, seen, std::string(v) + "/lib/python3*/site-packages");
  if (const char* home = std::getenv("HOME"))
    addGlob(out, seen, std::string(home) + "/.local/lib/python3*/site-packages");
  addGlob(out, seen, "/usr/local/lib/python3*/site-packages");
  addGlob(out, seen, "/usr/local/lib/python3*/dist-packages");
  addGlob(out, seen, "/usr/lib/python3*/site-packages");
  addGlob(out, seen, "/usr/lib/python3*/dist-packages");
  addGlob(out, seen, "/opt/conda/lib/python3*/site-packages");
  return out;
}

LibraryHandle openLibrary(const LibrarySpec& spec) {
  LibraryHandle h;
  auto attempt = [&](const std::string& what, const std::string& place) {
    if (h.handle) return;
    struct stat st;
    if (what.find('/') != std::string::npos && stat(what.c_str(), &st) != 0) {
      h.tried.push_back(place + ": no such file");
      return;
    }
    dlerror();
    void* p = dlopen(what.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (p) {
      h.handle = p;
      h.path = what;
      return;
    }
    // dlerror() repeats the name first ("libx.so: cannot open ..."): keep only the reason.
    std::string why = lastDlError();
    if (why.compare(0, what.size() + 2, what + ": ") == 0) why = why.substr(what.size() + 2);
    h.tried.push_back(place + ": " + why);
  };
  auto inFolder = [&](const std::string& dir) {
    if (!isDir(dir)) {
      h.tried.push_back(dir + ": no such folder");
      return;
    }
    for (size_t i = 0; i < spec.sonames.size() && !h.handle; i++) {
      struct stat st;
      std::string companion = i < spec.companions.size() ? spec.companions[i] : "";
      // Best effort: a failure here shows up as the main library's own dlopen error.
      if (!companion.empty() && stat((dir + "/" + companion).c_str(), &st) == 0)
        dlopen((dir + "/" + companion).c_str(), RTLD_NOW | RTLD_LOCAL);
      attempt(dir + "/" + spec.sonames[i], dir + "/" + spec.sonames[i]);
    }
  };

  if (!spec.envVar.empty()) {
    if (const char* v = std::getenv(spec.envVar.c_str()); v && *v) {
      std::string p(v);
      if (isDir(p)) {
        inFolder(p);
      } else {
        std::string dir = p.find('/') == std::string::npos ? "." : p.substr(0, p.rfind('/'));
        for (auto& c : spec.companions)  // best effort, as in inFolder
          if (!c.empty()) dlopen((dir + "/" + c).c_str(), RTLD_NOW | RTLD_LOCAL);
        attempt(p, "$" + spec.envVar + "=" + p);
      }
    } else {
      h.tried.push_back("$" + spec.envVar + ": not set");
    }
  }
  // The loader's own search: LD_LIBRARY_PATH, RUNPATH, ld.so.cache, /lib, /usr/lib.
  for (auto& so : spec.sonames) attempt(so, so + " (LD_LIBRARY_PATH, ld.so.cache, system folders)");
  for (const char* dir : {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"})
    if (!h.handle && isDir(dir)) inFolder(dir);
  if (!spec.wheelDirs.empty()) {
    auto sites = pythonSitePackages();
    if (sites.empty()) h.tried.push_back("Python site-packages: none found");
    for (auto& site : sites)
      for (auto& sub : spec.wheelDirs)
        if (!h.handle) inFolder(site + "/nvidia/" + sub);
  }
  return h;
}

std::string describeSearch(const LibraryHandle& h) {
  std::string s = "searched: ";
  for (size_t i = 0; i < h.tried.size(); i++) s += (i ? "; " : "") + h.tried[i];
  return s;
}

}  // namespace ck::cuda
