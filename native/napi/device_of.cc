#include "device_of.h"

#include <string>

namespace ck {

Device& deviceOf(int64_t id, const char* op) {
  if (id >= 0 && id < kMaxCpuStreams) return device(DeviceKind::Cpu, int(id), op);
  if (id >= kCudaStreamBase && id < kCudaStreamBase + 64)
    return device(DeviceKind::Cuda, int(id - kCudaStreamBase), op);
  throw Error(Code::Arg, std::string(op) + ": stream id " + std::to_string(id) +
                             " names no device (cpu:0..63 are 0..63, cuda:N is " + std::to_string(kCudaStreamBase) +
                             "+N)");
}

}  // namespace ck
