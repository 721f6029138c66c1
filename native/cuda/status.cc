#include "status.h"

#include <cuda_runtime_api.h>

#include "context.h"
#include "cublas_loader.h"

namespace ck::cuda {

Status status() {
  Status s{};
  std::string why;
  const int n = deviceCount(&why);
  cudaRuntimeGetVersion(&s.runtimeVersion);
  cudaDriverGetVersion(&s.driverVersion);  // 0 when no driver is installed
  cudaGetLastError();
  s.available = n > 0;
  if (n == 0) s.reason = "no CUDA device: " + why;
  for (int i = 0; i < n; i++) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    s.devices.push_back(DeviceInfo{i, prop.name, std::to_string(prop.major) + "." + std::to_string(prop.minor),
                                   double(prop.totalGlobalMem), prop.multiProcessorCount});
  }
  return s;
}

int builtRuntimeVersion() { return CUDART_VERSION; }

std::string cublasPath() { return cublas().path; }

}  // namespace ck::cuda
