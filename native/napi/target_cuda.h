// The CUDA side of Target (target.cc), declared here so target.cc needs no CUDA header, and
// defined in native/cuda/target_cuda.cc, which only the CUDA addon links. target.cc calls these
// only under CONVKIT_CUDA.
#pragma once
#include <optional>
#include <vector>

#include "target.h"

namespace ck {

// The context of cuda:index, ready for ops from the JS thread; ND_NO_CUDA / ND_ARG naming why not.
cuda::Ctx& cudaTargetContext(int index, const char* op);

void cudaSignal(cuda::Ctx& ctx, Target::Signal fn);
void cudaRead(cuda::Ctx& ctx, const TensorRef& r, Target::Bytes fn);
std::optional<StreamError> cudaWaitIdle(cuda::Ctx& ctx);
std::optional<StreamError> cudaReadSync(cuda::Ctx& ctx, const TensorRef& r, void* dst);
int64_t cudaPending(cuda::Ctx& ctx);
TensorRef cudaUpload(cuda::Ctx& ctx, const void* src, size_t bytes);

}  // namespace ck
