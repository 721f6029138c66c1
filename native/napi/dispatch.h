// One kernel expression for both devices. A binding reads its arguments once and passes
//
//   dispatch(dev, "im2col", [=](auto& kc) { im2col(kc, x.f32(), g, cols.f32()); });
//
// `kc` is the kernel context of the device the op runs on: cpu::Host on a CPU stream (the
// closure is queued on its executor), cuda::Ctx on a GPU (called now; it launches on the
// device's stream). The kernel is found by argument-dependent lookup on that type, in ck::cpu
// (host_twins.h) or ck::cuda, so the argument list is written once. The CPU build never
// instantiates the CUDA side and includes no CUDA header.
#pragma once
#include <string>
#include <utility>

#include "../core/device.h"
#include "../core/errors.h"
#include "host_twins.h"

namespace ck {

#ifdef CONVKIT_CUDA
namespace cuda {
class Ctx;
Ctx& contextOf(Device& d);  // native/cuda/device_cuda.cc
}  // namespace cuda
#endif

// A kernel named once for either device, for bindings that share one body across a family
// (activations, binary elementwise ops): CK_KERNEL(reluForward)(kc, x, y, n).
#define CK_KERNEL(name) [](auto& kc, auto... args) { name(kc, args...); }

template <class Kernel>
void dispatch(Device& d, const char* op, Kernel kernel) {
  if (d.kind() == DeviceKind::Cpu) {
    d.run(op, [kernel = std::move(kernel)] {
      cpu::Host host;
      kernel(host);
    });
    return;
  }
#ifdef CONVKIT_CUDA
  cuda::Ctx& ctx = cuda::contextOf(d);
  d.run(op, [&kernel, &ctx] { kernel(ctx); });
#else
  throw Error(Code::NoCuda, std::string(op) + ": " + d.name() + " needs the CUDA build of convkit");
#endif
}

}  // namespace ck
