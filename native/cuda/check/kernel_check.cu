// kernel_check: runs every CUDA kernel against its CPU twin (native/cpu, compiled in) on the same
// seeded inputs at odd shapes; im2col and the dropout mask must match bit for bit, the rest within
// a stated tolerance. One JSON line per check; exit status 1 if any check failed (a missing cuBLAS
// fails the GEMM-based families and the rest still run), 2 if there is no CUDA device (nothing run).
//   kernel_check            all checks
//   kernel_check --gemm     also time sgemm (JSON lines with GFLOP/s)
#include <cstdio>
#include <cstring>
#include <string>

#include "../../core/errors.h"
#include "../context.h"
#include "../cublas_loader.h"
#include "checks.h"
#include "harness.h"

int main(int argc, char** argv) {
  bool bench = false;
  for (int i = 1; i < argc; i++)
    if (std::strcmp(argv[i], "--gemm") == 0) bench = true;
  std::string why;
  int devices = ck::cuda::deviceCount(&why);
  if (devices == 0) {
    std::printf("{\"check\":\"device\",\"skipped\":true,\"reason\":\"no CUDA device: compiled, not run (%s)\"}\n",
                ck::check::jsonEscape(why).c_str());
    return 2;
  }
  std::string cublasPath;
  try {
    cublasPath = ck::cuda::cublas().path;
  } catch (const ck::Error& e) {
    ck::check::failures()++;
    std::printf("{\"check\":\"cublas\",\"pass\":false,\"code\":\"%s\",\"detail\":\"%s\"}\n", ck::codeName(e.code()),
                ck::check::jsonEscape(e.what()).c_str());
  }
  ck::cuda::Ctx* ctx = nullptr;
  try {
    ctx = &ck::cuda::deviceContext(0);
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    std::printf("{\"check\":\"device\",\"name\":\"%s\",\"cc\":\"%d.%d\",\"cublas\":\"%s\"}\n",
                ck::check::jsonEscape(prop.name).c_str(), prop.major, prop.minor,
                ck::check::jsonEscape(cublasPath).c_str());
  } catch (const std::exception& e) {
    std::printf("{\"check\":\"context\",\"pass\":false,\"detail\":\"%s\"}\n", ck::check::jsonEscape(e.what()).c_str());
    return 1;
  }
  // Each group runs on its own, so that an error in one (a cuBLAS call refused, a fault) is
  // reported and the other families are still checked.
  struct Group {
    const char* name;
    void (*run)(ck::cuda::Ctx&);
  };
  Group groups[] = {{"elementwise", ck::check::checkElementwise},
                    {"conv", ck::check::checkConvFamily},
                    {"other", ck::check::checkOtherFamilies},
                    {"benchGemm", bench ? ck::check::benchGemm : nullptr}};
  for (const Group& g : groups) {
    if (!g.run) continue;
    try {
      g.run(*ctx);
    } catch (const ck::Error& e) {
      ck::check::failures()++;
      std::printf("{\"check\":\"%s\",\"pass\":false,\"code\":\"%s\",\"detail\":\"%s\"}\n", g.name,
                  ck::codeName(e.code()), ck::check::jsonEscape(e.what()).c_str());
    } catch (const std::exception& e) {
      ck::check::failures()++;
      std::printf("{\"check\":\"%s\",\"pass\":false,\"detail\":\"%s\"}\n", g.name,
                  ck::check::jsonEscape(e.what()).c_str());
    }
    std::fflush(stdout);
    // A sticky device error (an illegal address) poisons every later call: stop here.
    if (cudaDeviceSynchronize() != cudaSuccess) {
      std::printf("{\"check\":\"device\",\"pass\":false,\"detail\":\"device error after %s: %s\"}\n", g.name,
                  cudaGetErrorString(cudaGetLastError()));
      return 1;
    }
  }
  int failed = ck::check::failures();
  std::printf("{\"summary\":true,\"failed\":%d}\n", failed);
  return failed ? 1 : 0;
}
