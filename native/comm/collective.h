// Collectives over a group of devices (DESIGN.md, "Collectives, one interface, three engines"):
// all-reduce (sum or mean) and broadcast of the same element range of one float32 tensor per
// device. A call queues one op on every member's stream and returns at once; the op runs in
// stream order, after each member's earlier ops (its gradient writes) and before its later ones.
// The range lets data parallel reduce buckets of one flat gradient buffer as they become ready.
//
// Engine is the slot a device contract fills with one implementation per kind of group: the
// shared-memory engine for CPU streams (shared_memory.h), NCCL or its copy+reduce fallback for
// CUDA devices (native/cuda/nccl_engine.h), Gloo for processes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/storage.h"

namespace ck {

class CpuStream;
namespace cuda {
class Ctx;
}

namespace comm {

enum class ReduceOp : int { Sum = 0, Mean = 1 };

// Elements (float32) of each member's tensor, [offset, offset + length).
struct Range {
  int64_t offset = 0;
  int64_t length = 0;
};

// One participant: a device's stream and its tensor. Exactly one of cpu and cuda is set.
struct Member {
  CpuStream* cpu = nullptr;
  cuda::Ctx* cuda = nullptr;
  TensorRef tensor;
  std::string device;  // "cpu:1", "cuda:0": for messages
};

class Engine {
 public:
  virtual ~Engine() = default;
  // What backends() reports: "shared-memory", "nccl 2.30.4", "fallback: copy+reduce (why)".
  virtual std::string describe() = 0;
  // Queue the collective on every member's stream. Throws ck::Error when it cannot be queued on
  // every member; then nothing of it runs (ops already queued on some members do nothing).
  virtual void allReduce(const std::vector<Member>& members, Range range, ReduceOp op) = 0;
  // Copies the root member's range into every other member's.
  virtual void broadcast(const std::vector<Member>& members, Range range, int root) = 0;
};

// The invariants every engine relies on, as ND_ARG naming `op`: at least one member, the range
// inside every member's tensor, and no two members' ranges sharing a byte (they would race).
void checkMembers(const char* op, const std::vector<Member>& members, Range range);

}  // namespace comm
}  // namespace ck
