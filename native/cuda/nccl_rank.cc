#include "nccl_rank.h"

#include <cstring>
#include <string>

#include "../core/errors.h"
#include "cuda_check.h"
#include "nccl_loader.h"

namespace ck::cuda {

std::vector<char> NcclRank::uniqueId() {
  const Nccl& lib = nccl();
  ncclapi::UniqueId id;
  ncclCheck(lib.getUniqueId(&id), "ncclGetUniqueId");
  std::vector<char> out(ncclapi::kUniqueIdBytes);
  std::memcpy(out.data(), &id, out.size());
  return out;
}

std::shared_ptr<NcclRank> NcclRank::join(const std::vector<char>& bytes, int worldSize, int rank, int device) {
  if (bytes.size() != size_t(ncclapi::kUniqueIdBytes))
    throw Error(Code::Arg, "ncclCommInitRank: the unique id must be " + std::to_string(ncclapi::kUniqueIdBytes) +
                               " bytes, got " + std::to_string(bytes.size()));
  if (worldSize < 1 || rank < 0 || rank >= worldSize)
    throw Error(Code::Arg, "ncclCommInitRank: rank " + std::to_string(rank) + " is not in a group of " +
                               std::to_string(worldSize));
  const Nccl& lib = nccl();
  ncclapi::UniqueId id;
  std::memcpy(&id, bytes.data(), bytes.size());
  check(cudaSetDevice(device), "cudaSetDevice");  // ncclCommInitRank binds the current device
  ncclapi::Comm comm = nullptr;
  ncclCheck(lib.commInitRank(&comm, worldSize, id, rank), "ncclCommInitRank");
  return std::shared_ptr<NcclRank>(new NcclRank(comm, worldSize, device));
}

NcclRank::~NcclRank() {
  if (comm_) nccl().commDestroy(comm_);  // best effort: a destructor has nobody to tell
}

void NcclRank::checkDevice(const Ctx& ctx, const char* op) const {
  if (ctx.device() != device_)
    throw Error(Code::Arg, std::string(op) + ": the tensor is on cuda:" + std::to_string(ctx.device()) +
                               " but this rank's communicator is on cuda:" + std::to_string(device_));
}

void NcclRank::allReduce(Ctx& ctx, float* data, size_t count, bool mean) {
  checkDevice(ctx, "ncclAllReduce");
  if (count == 0) return;
  ctx.makeCurrent();
  ncclCheck(
      nccl().allReduce(data, data, count, ncclapi::kFloat32, mean ? ncclapi::kAvg : ncclapi::kSum, comm_, ctx.stream()),
      "ncclAllReduce");
}

void NcclRank::broadcast(Ctx& ctx, float* data, size_t count, int root) {
  checkDevice(ctx, "ncclBroadcast");
  if (root < 0 || root >= size_)
    throw Error(Code::Arg, "ncclBroadcast: root " + std::to_string(root) + " is not a rank");
  if (count == 0) return;
  ctx.makeCurrent();
  ncclCheck(nccl().broadcast(data, data, count, ncclapi::kFloat32, root, comm_, ctx.stream()), "ncclBroadcast");
}

}  // namespace ck::cuda
