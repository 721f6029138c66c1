// The device context every CUDA kernel receives: the device, its in-order stream (DESIGN.md:
// devices are in-order streams), the cuBLAS handle bound to that stream, and a small device word
// where kernels report bad input (a label out of range) that the host reads at the next wait.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "../core/errors.h"
#include "cublas_api.h"

namespace ck::cuda {

// What a kernel found wrong, written into the context's error word (first one wins).
enum class KernelFault : int { None = 0, LabelOutOfRange = 1, ArgmaxOutOfRange = 2 };

class Ctx {
 public:
  // A context with its own non-blocking stream on `device`.
  explicit Ctx(int device);
  ~Ctx();
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  // Makes this context's device current on the calling thread (every launcher does this first).
  void makeCurrent() const;

  // TF32 tensor-core math in sgemm: faster, 10-bit mantissa products. Off by default, so results
  // match the CPU within float tolerance; an explicit opt-in.
  bool tf32 = false;

  // The cuBLAS handle on this stream, created on first use; ND_NO_CUDA when cuBLAS is missing.
  blas::Handle blasHandle();

  // Device int[2]: {KernelFault, index}; kernels set it with atomicCAS so the first fault stays.
  int* faultWord();
  // Waits for the stream, then throws ck::Error for a launch/runtime failure (ND_CUDA) or for a
  // fault a kernel reported (ND_ARG naming `op` when given, the fault and its index).
  void synchronize(const char* op = "synchronize");

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  blas::Handle blas_ = nullptr;
  int* fault_ = nullptr;
  bool blasTf32_ = false;
  friend void applyMathMode(Ctx&);
};

// The process-wide context of `device` (created on first use, never destroyed: streams may still
// run while static destructors do).
Ctx& deviceContext(int device);

// Number of visible devices; 0 with *why set to the runtime's message when there is none.
int deviceCount(std::string* why);

// The error for a fault word {KernelFault, index} read back from the device (ND_ARG naming `op`
// for a fault a kernel found in its input, ND_INTERNAL for an unknown one).
Error faultError(const char* op, const int word[2]);

// Sets the cuBLAS math mode to match ctx.tf32 (called by sgemm before each call).
void applyMathMode(Ctx& ctx);

}  // namespace ck::cuda
