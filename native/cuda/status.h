// What the CUDA runtime reports about this machine, as plain values for the binding layer
// (native/napi/ops_cuda.cc converts them; it calls no CUDA API itself). Needs no GPU: without
// one, available is false and reason says why.
#pragma once
#include <string>
#include <vector>

namespace ck::cuda {

struct DeviceInfo {
  int index;
  std::string name;
  std::string computeCapability;  // "9.0"
  double memoryBytes;
  int multiprocessors;
};

struct Status {
  bool available;
  std::string reason;  // set when !available
  int runtimeVersion;  // of the linked runtime
  int driverVersion;   // 0 when no driver is installed
  std::vector<DeviceInfo> devices;
};

Status status();
// CUDART_VERSION this addon was compiled against.
int builtRuntimeVersion();
// The path of the cuBLAS library, loading it first (ND_NO_CUDA naming every place searched).
std::string cublasPath();

}  // namespace ck::cuda
