// The CUDA collectives without NCCL (no library, one too old, or asked for with
// CONVKIT_CUDA_COLLECTIVE=fallback): device-to-device copies to the first member's device, a
// reduction there in member order (0 + 1 + 2 ..., as the CPU engine sums), and copies back,
// ordered against every member's stream with events. Slower than NCCL's rings, never a wait on
// the host. Members may repeat a device (two replicas on one GPU).
#pragma once
#include <vector>

#include "../comm/collective.h"

namespace ck::cuda {

void fallbackAllReduce(const std::vector<comm::Member>& members, comm::Range range, comm::ReduceOp op);
void fallbackBroadcast(const std::vector<comm::Member>& members, comm::Range range, int root);

}  // namespace ck::cuda
