// Turning CUDA runtime failures into ck::Error: ND_OOM for an allocation that does not fit,
// ND_CUDA for everything else, with the op's name and the runtime's own words. Never exit().
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "../core/errors.h"

namespace ck::cuda {

[[noreturn]] inline void throwCuda(cudaError_t e, const char* what) {
  Code code = e == cudaErrorMemoryAllocation ? Code::OOM : Code::Cuda;
  throw Error(code, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throwCuda(e, what);
}
inline void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throwCuda(e, what.c_str());
}

// After a kernel launch: a bad configuration shows up here at once; faults inside the kernel
// surface at the next synchronize of the stream.
inline void checkLaunch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throwCuda(e, op);
}

}  // namespace ck::cuda
