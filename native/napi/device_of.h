// The device a binding's stream argument names, looked up once per call (native/core/device.h
// says what a device does; this file only maps the binding's stream ids onto devices).
//
// Stream ids: 0..63 are cpu:0..cpu:63; kCudaStreamBase + N is cuda:N (lib/tensor/device.ts).
// In the CPU build no CUDA provider is registered, so a CUDA id is ND_NO_CUDA.
#pragma once
#include <cstdint>

#include "../core/device.h"
#include "../core/device_cpu.h"

namespace ck {

constexpr int64_t kCudaStreamBase = 256;

// `op` names the binding in errors: ND_ARG for an id that names no device, ND_NO_CUDA for a CUDA
// id in the CPU build or on a machine without that GPU.
Device& deviceOf(int64_t streamId, const char* op);

}  // namespace ck
