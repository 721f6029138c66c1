// Finding a shared library at run time (cuBLAS now, NCCL later) without a link-time dependency:
// the DESIGN says a missing library is a clear error naming every place searched, never a crash
// and never a silent CPU fallback. The search order is: the path in an environment variable, the
// loader's usual paths (LD_LIBRARY_PATH, ld.so.cache, /usr/local/cuda), then the folders of the
// Python nvidia-* wheels (site-packages/nvidia/cu13/lib, .../nvidia/<name>/lib) in every Python
// environment found.
#pragma once
#include <string>
#include <vector>

namespace ck::cuda {

struct LibrarySpec {
  std::vector<std::string> sonames;  // tried in order, e.g. {"libcublas.so.13", "libcublas.so.12"}
  // Folders under site-packages/nvidia that the pip wheels use: CUDA 13 wheels put every library
  // in "cu13/lib", CUDA 12 wheels in "<name>/lib" (NCCL keeps "nccl/lib" in both).
  std::vector<std::string> wheelDirs;
  std::string envVar;  // a file or folder to try first, e.g. "CONVKIT_CUBLAS"
  // Per soname, a library it needs from the same folder (libcublasLt for libcublas), opened first
  // so that a folder whose files carry no $ORIGIN run path still resolves; "" for none.
  std::vector<std::string> companions;
};

struct LibraryHandle {
  void* handle = nullptr;          // dlopen handle, null when nothing loaded
  std::string path;                // what was opened
  std::vector<std::string> tried;  // "<place>: <why it failed>" for each failed attempt
};

// Folders that hold Python packages: /usr/lib/python3*/dist-packages, /usr/local/lib/python3*/
// {dist,site}-packages, ~/.local/lib/python3*/site-packages, $VIRTUAL_ENV and $CONDA_PREFIX's.
std::vector<std::string> pythonSitePackages();

// Tries every place in order and keeps the first library that opens (RTLD_NOW | RTLD_LOCAL).
LibraryHandle openLibrary(const LibrarySpec& spec);

// "searched: a; b; c" for error messages.
std::string describeSearch(const LibraryHandle& h);

}  // namespace ck::cuda
