// The collective engine of CUDA devices in one process: NCCL when it loads (one communicator
// per group of devices from ncclCommInitAll, then grouped ncclAllReduce / ncclBroadcast calls
// on each device's stream, so the collective runs in stream order with no host wait), else the
// copy+reduce fallback (nccl_fallback.h), which describe() reports with the reason.
//
// The fallback is used when NCCL does not load, when it is older than 2.10 (no ncclAvg), when
// CONVKIT_CUDA_COLLECTIVE=fallback asks for it, and for a group that repeats a device unless
// NCCL is 2.30 or newer and NCCL_MULTI_RANK_GPU_ENABLE=1 (several ranks on one GPU).
//
// A group's communicator is created on first use, on the calling (JS) thread: a one-time cost
// per group of devices; the communicators live for the process, as the streams do.
#pragma once
#include "../comm/collective.h"

namespace ck::cuda {

comm::Engine& collectiveEngine();

}  // namespace ck::cuda
