// Our own declarations of the NCCL C API convkit calls, so that no NCCL header or library is
// needed to build: the library is opened at run time (nccl_loader.h). The types, values and
// signatures below are those of nccl.h (NCCL 2.x); when a real nccl.h is available at build
// time, nccl_decl_check.cc compares them with static_asserts.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

#ifdef CONVKIT_CHECK_NCCL_DECLS
#include <nccl.h>
#else
struct ncclComm;
#endif

namespace ck::cuda::ncclapi {

#ifdef CONVKIT_CHECK_NCCL_DECLS
// The check build uses the real types, so that the function types below must match exactly.
using Comm = ncclComm_t;
using UniqueId = ncclUniqueId;
using Result = ncclResult_t;
using DataType = ncclDataType_t;
using RedOp = ncclRedOp_t;
constexpr Result kSuccess = ncclSuccess;
constexpr DataType kFloat32 = ncclFloat32;
constexpr RedOp kSum = ncclSum, kAvg = ncclAvg;
#else
using Comm = ncclComm*;
// NCCL_UNIQUE_ID_BYTES: the id the TCP store carries between processes.
struct UniqueId {
  char internal[128];
};
enum Result : int {
  kSuccess = 0,
  kUnhandledCudaError = 1,
  kSystemError = 2,
  kInternalError = 3,
  kInvalidArgument = 4,
  kInvalidUsage = 5,
  kRemoteError = 6,
  kInProgress = 7
};
enum DataType : int { kFloat32 = 7 };
enum RedOp : int { kSum = 0, kAvg = 4 };  // ncclAvg: NCCL 2.10 and later
#endif

constexpr int kUniqueIdBytes = 128;

using GetVersionFn = Result (*)(int*);
using GetUniqueIdFn = Result (*)(UniqueId*);
using CommInitAllFn = Result (*)(Comm*, int, const int*);
using CommInitRankFn = Result (*)(Comm*, int, UniqueId, int);
using CommDestroyFn = Result (*)(Comm);
using AllReduceFn = Result (*)(const void*, void*, size_t, DataType, RedOp, Comm, cudaStream_t);
using BroadcastFn = Result (*)(const void*, void*, size_t, DataType, int, Comm, cudaStream_t);
using GroupStartFn = Result (*)();
using GroupEndFn = Result (*)();
using GetErrorStringFn = const char* (*)(Result);

// The symbol names looked up with dlsym.
constexpr const char* kGetVersion = "ncclGetVersion";
constexpr const char* kGetUniqueId = "ncclGetUniqueId";
constexpr const char* kCommInitAll = "ncclCommInitAll";
constexpr const char* kCommInitRank = "ncclCommInitRank";
constexpr const char* kCommDestroy = "ncclCommDestroy";
constexpr const char* kAllReduce = "ncclAllReduce";
constexpr const char* kBroadcast = "ncclBroadcast";
constexpr const char* kGroupStart = "ncclGroupStart";
constexpr const char* kGroupEnd = "ncclGroupEnd";
constexpr const char* kGetErrorString = "ncclGetErrorString";

// NCCL_VERSION_CODE since 2.9: major * 10000 + minor * 100 + patch (2.30.4 is 23004); before,
// major * 1000 + minor * 100 + patch.
constexpr int versionCode(int major, int minor, int patch) {
  return major <= 2 && minor < 9 ? major * 1000 + minor * 100 + patch : major * 10000 + minor * 100 + patch;
}

}  // namespace ck::cuda::ncclapi
