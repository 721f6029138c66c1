// One process's rank in a multi-process NCCL group (torchrun style: one process per GPU): rank 0
// makes the 128-byte unique id, the TCP store carries it to every rank (lib/parallel), and each
// joins with ncclCommInitRank on its own GPU. Collectives are launched on that GPU's stream in
// stream order, like any op. No N-API here: native/napi/ops_nccl_cuda.cc converts arguments.
#pragma once
#include <memory>
#include <vector>

#include "context.h"
#include "nccl_api.h"

namespace ck::cuda {

class NcclRank {
 public:
  // A new unique id from the loaded NCCL (ND_NO_CUDA naming what was searched when it is missing).
  static std::vector<char> uniqueId();
  // Joins the group: blocks until every rank has called it with the same id, so it runs off the
  // JS thread (a libuv worker). `device` is this rank's GPU.
  static std::shared_ptr<NcclRank> join(const std::vector<char>& id, int worldSize, int rank, int device);
  ~NcclRank();
  NcclRank(const NcclRank&) = delete;
  NcclRank& operator=(const NcclRank&) = delete;

  int size() const { return size_; }
  int device() const { return device_; }
  // In place, on ctx's stream (ctx must be this rank's GPU): sum or mean over the ranks.
  void allReduce(Ctx& ctx, float* data, size_t count, bool mean);
  void broadcast(Ctx& ctx, float* data, size_t count, int root);

 private:
  NcclRank(ncclapi::Comm comm, int size, int device) : comm_(comm), size_(size), device_(device) {}
  void checkDevice(const Ctx& ctx, const char* op) const;

  ncclapi::Comm comm_;
  int size_;
  int device_;
};

}  // namespace ck::cuda
